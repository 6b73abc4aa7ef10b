import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll } from 'vitest';
import type { Healbot } from '../../src/app.js';
import type { DockerEngine } from './docker-engine.js';
import { ensureTestImage, removeTestContainers } from './images.js';

/** What a Docker test file shares: the engine's client and host, a scratch directory, and the healbots to close. */
export interface DockerWorkspace {
  docker: Dockerode;
  host: string;
  dir: string;
  bots: Healbot[];
}

/**
 * Registers beforeAll/afterAll for a describe block on the shared dockerd: imports the test
 * image, makes a scratch directory, and afterwards closes every healbot and removes this
 * file's containers and the directory.
 */
export function useDockerWorkspace(engine: DockerEngine | undefined, prefix: string): DockerWorkspace {
  const workspace = { bots: [] } as unknown as DockerWorkspace;
  beforeAll(async () => {
    workspace.docker = (engine as DockerEngine).docker;
    workspace.host = (engine as DockerEngine).host;
    await ensureTestImage(workspace.docker);
    workspace.dir = mkdtempSync(join(tmpdir(), `healbot-${prefix}-`));
  });
  afterAll(async () => {
    await Promise.allSettled(workspace.bots.map((bot) => bot.close()));
    if (workspace.docker) await removeTestContainers(workspace.docker);
    if (workspace.dir) rmSync(workspace.dir, { recursive: true, force: true });
  });
  return workspace;
}

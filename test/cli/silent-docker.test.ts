import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDir, runCli } from '../support/cli.js';
import {
  dockerEngineUnavailableReason,
  requireOrSkip,
  startDockerEngine,
  type DockerEngine,
} from '../support/docker-engine.js';
import {
  commands,
  ensureTestImage,
  freePort,
  removeTestContainers,
  runContainer,
  uniqueName,
  waitForContainer,
} from '../support/images.js';
import { startSilentProxy, type SilentProxy } from '../support/silent-proxy.js';

/** The built CLI against a Docker socket that accepts the action's request and never answers it. */
const engine = await startDockerEngine();
const skip = !engine && requireOrSkip(dockerEngineUnavailableReason());

describe.skipIf(skip)('a Docker daemon that never answers', () => {
  let docker: Dockerode;
  let proxy: SilentProxy;
  const socketDir = mkdtempSync(join(tmpdir(), 'hb-silent-'));
  const dir = configDir();

  beforeAll(async () => {
    docker = (engine as DockerEngine).docker;
    await ensureTestImage(docker);
    proxy = await startSilentProxy(
      { socketPath: (engine as DockerEngine).socket },
      { socketPath: join(socketDir, 'docker.sock') },
    );
  });

  afterAll(async () => {
    await proxy?.close();
    await removeTestContainers(docker);
    rmSync(socketDir, { recursive: true, force: true });
    dir.cleanup();
  });

  it('heal ends within actionTimeout with outcome failed and one clear line; the container is untouched', async () => {
    const port = await freePort();
    const name = uniqueName('silent');
    await runContainer(docker, { name, cmd: commands.readyServer(port) });
    await docker.getContainer(name).kill();
    await waitForContainer(docker, name, (info) => !info.State.Running);
    proxy.silent = (req) => req.method === 'POST' && /\/start$/.test(new URL(req.url ?? '/', 'http://docker').pathname);
    const config = {
      healing: { actionTimeout: '2s', verifyTimeout: '2s' },
      services: {
        api: {
          docker: { container: name, host: `unix://${proxy.address}` },
          probes: [{ name: 'internal', http: `http://127.0.0.1:${port}/ready`, timeoutMs: 500 }],
        },
      },
    };
    const result = await runCli(['heal', 'api', '--config', dir.write('silent.yml', config), '--yes', '--json'], {
      timeoutMs: 30_000,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.outcome).toBe('failed');
    expect(result.json.actions).toEqual([
      expect.objectContaining({
        action: 'start',
        ok: false,
        error: `docker start of container "${name}" failed: timed out waiting for the Docker daemon`,
      }),
    ]);
    expect(proxy.swallowed, proxy.swallowed.join()).toEqual([
      expect.stringMatching(new RegExp(`^POST (/v[\\d.]+)?/containers/${name}/start`)),
    ]);
    expect((await docker.getContainer(name).inspect()).State.Running).toBe(false);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../src/free-port.js';

const MB = 1024 * 1024;
const HEALTHY_TIMEOUT_MS = 120_000;

/**
 * The container image: `docker build` time (no cache, BuildKit, vendored dependencies), its
 * size, the time to create and start a container (a copy of the image on the vfs driver), from
 * started to `/healthz` answering, and the memory of an idle `healbot serve` inside it. Needs the test dockerd (root, Debian's docker.io).
 */
export async function benchImage(): Promise<Record<string, number | string>> {
  const harness = await import('../test/support/docker-engine.js').catch(() => undefined);
  const support = await import('../test/support/node-image.js').catch(() => undefined);
  const engine = process.env.DOCKER_HOST ? undefined : await harness?.startDockerEngine().catch(() => undefined);
  if (!engine || !support)
    return {
      'image.skipped': `no Docker engine (${harness?.dockerEngineUnavailableReason() ?? 'test support not built'})`,
    };
  const tag = `healbot-bench/healbot:${randomBytes(4).toString('hex')}`;
  const name = `healbot-bench-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync('/tmp/healbot-bench-image-');
  try {
    await support.ensureNodeBaseImage(engine.host);
    const buildStarted = performance.now();
    const build = await support.buildHealbotImage(engine.host, tag);
    const buildMs = performance.now() - buildStarted;
    if (!build.ok) return { 'image.failed': build.log.split('\n').slice(-3).join(' | ') };
    const base = await engine.docker.getImage(support.dockerfileBaseImage()).inspect();
    const image = await engine.docker.getImage(tag).inspect();

    const port = await freePort();
    const configFile = join(dir, 'healbot.yml');
    writeFileSync(
      configFile,
      stringify({
        server: { listen: `127.0.0.1:${port}`, token: 'bench-token-0123456789abcdef' },
        store: { path: '/var/lib/healbot/healbot.db' },
        services: { api: { probes: [{ name: 'internal', tcp: `127.0.0.1:${port}` }] } },
      }),
    );
    const createStarted = performance.now();
    const container = await support.startHealbotContainer(engine.docker, {
      image: tag,
      name,
      socket: engine.socket,
      configFile,
      env: {},
    });
    const startStarted = performance.now();
    let healthyMs: number | undefined;
    while (performance.now() - startStarted < HEALTHY_TIMEOUT_MS) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) {
        healthyMs = performance.now() - startStarted;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const stats = (await container.stats({ stream: false })) as {
      memory_stats?: { usage?: number; stats?: { inactive_file?: number } };
    };
    const memory = (stats.memory_stats?.usage ?? 0) - (stats.memory_stats?.stats?.inactive_file ?? 0);
    return {
      'image.build_s': (buildMs / 1000).toFixed(1),
      'image.size_mb': Math.round(image.Size / MB),
      'image.base_size_mb': Math.round(base.Size / MB),
      'image.healbot_layers_mb': Math.round((image.Size - base.Size) / MB),
      'image.create_and_start_ms': Math.round(startStarted - createStarted),
      'image.start_to_healthz_ms':
        healthyMs === undefined ? `not healthy within ${HEALTHY_TIMEOUT_MS} ms` : Math.round(healthyMs),
      'image.idle_memory_mb': (memory / MB).toFixed(1),
    };
  } finally {
    await engine.docker
      .getContainer(name)
      .remove({ force: true })
      .catch(() => undefined);
    await engine.docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await engine.stop();
  }
}

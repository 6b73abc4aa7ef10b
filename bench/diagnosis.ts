import { createServer, type Server } from 'node:http';
import { createHealbot, loadRuntimes } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import { ProcessRuntime } from '../src/demo/process-runtime.js';
import { freePort } from '../src/free-port.js';
import { benchDockerEngine } from './docker-engine.js';

const SERVICES = 20;
const HANG_TIMEOUT_MS = 2000;

/** A loopback server where `/hang/*` never answers and everything else answers 200. */
async function target(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/hang/')) return;
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

/** 20 services × 3 layers, the middle layer of each hanging until its 2 s timeout, diagnosed as one incident. */
export async function benchDiagnosis(): Promise<Record<string, number | string>> {
  const { server, port } = await target();
  const services: Record<string, unknown> = {};
  for (let i = 0; i < SERVICES; i++) {
    services[`svc${i}`] = {
      probes: [
        { name: 'public', http: `http://127.0.0.1:${port}/ok/${i}/public`, timeoutMs: HANG_TIMEOUT_MS },
        { name: 'proxy', http: `http://127.0.0.1:${port}/hang/${i}/proxy`, timeoutMs: HANG_TIMEOUT_MS },
        { name: 'internal', http: `http://127.0.0.1:${port}/ok/${i}/internal`, timeoutMs: HANG_TIMEOUT_MS },
      ],
      dependsOn: i === 0 ? Array.from({ length: SERVICES - 1 }, (_, j) => `svc${j + 1}`) : [],
    };
  }
  const bot = createHealbot(parseConfig({ services }), { storePath: ':memory:' });
  try {
    const started = performance.now();
    const diagnosis = await bot.api.diagnose('svc0');
    const wall = performance.now() - started;
    const sum = diagnosis.probes.reduce((total, p) => total + p.ms, 0);
    return {
      'diagnosis.probes': diagnosis.probes.length,
      'diagnosis.wall_ms': Math.round(wall),
      'diagnosis.sum_of_probe_ms': Math.round(sum),
      'diagnosis.wall_to_sum_ratio': Number((wall / sum).toFixed(3)),
      'diagnosis.root_cause': diagnosis.rootCause.kind,
    };
  } finally {
    await bot.close();
    server.close();
  }
}

/** One full heal of a killed backend, approved at once: heal wall time minus the restart itself. */
export async function benchHealOverhead(): Promise<Record<string, number | string>> {
  const port = await freePort();
  const backend = new ProcessRuntime('backend', port);
  await backend.start();
  const config = parseConfig({
    healing: { verifyTimeout: '10s' },
    services: { api: { probes: [{ name: 'internal', http: `http://127.0.0.1:${port}/ready`, timeoutMs: 1000 }] } },
  });
  await loadRuntimes(config);
  const bot = createHealbot(config, { storePath: ':memory:', runtimes: { api: backend } });
  bot.api.subscribe((event) => {
    if (event.type === 'awaiting_approval')
      void bot.api.decide(event.request.id, { platform: 'cli', id: 'bench' }, 'approve');
  });
  try {
    await backend.kill();
    const started = performance.now();
    const report = await bot.api.heal({ service: 'api', source: 'cli' });
    const wall = performance.now() - started;
    const restart = report.actions.reduce((total, a) => total + a.ms, 0);
    return {
      'heal.runtime': 'local process (demo runtime)',
      'heal.outcome': report.outcome,
      'heal.wall_ms': Math.round(wall),
      'heal.restart_ms': Math.round(restart),
      'heal.overhead_ms': Math.round(wall - restart),
    };
  } finally {
    await bot.close();
    await backend.close();
  }
}

/**
 * The same full heal against a real container, when a Docker engine is at hand: healbot's
 * test dockerd (as root), else DOCKER_HOST. Heal wall time minus the container's own start.
 */
export async function benchDockerHealOverhead(): Promise<Record<string, number | string>> {
  const found = await benchDockerEngine('heal_docker');
  if ('skipped' in found) return found.skipped;
  const { engine, images } = found;
  const name = images.uniqueName('bench-heal');
  try {
    const port = await freePort();
    const container = await images.runContainer(engine.docker, { name, cmd: images.commands.readyServer(port) });
    await images.waitForContainer(engine.docker, name, (info) => info.State.Running);
    const config = parseConfig({
      healing: { verifyTimeout: '20s' },
      services: {
        api: {
          docker: { container: name, host: engine.host },
          probes: [{ name: 'internal', http: `http://127.0.0.1:${port}/ready`, timeoutMs: 1000 }],
        },
      },
    });
    await loadRuntimes(config);
    const bot = createHealbot(config, { storePath: ':memory:' });
    bot.api.subscribe((event) => {
      if (event.type === 'awaiting_approval')
        void bot.api.decide(event.request.id, { platform: 'cli', id: 'bench' }, 'approve');
    });
    try {
      await container.kill();
      await images.waitForContainer(engine.docker, name, (info) => !info.State.Running);
      const started = performance.now();
      const report = await bot.api.heal({ service: 'api', source: 'cli' });
      const wall = performance.now() - started;
      const action = report.actions.reduce((total, a) => total + a.ms, 0);
      return {
        'heal_docker.outcome': report.outcome,
        'heal_docker.action': report.actions.map((a) => a.action).join(','),
        'heal_docker.wall_ms': Math.round(wall),
        'heal_docker.container_start_ms': Math.round(action),
        'heal_docker.overhead_ms': Math.round(wall - action),
      };
    } finally {
      await bot.close();
    }
  } finally {
    await engine.docker
      .getContainer(name)
      .remove({ force: true })
      .catch(() => undefined);
    await engine.stop();
  }
}

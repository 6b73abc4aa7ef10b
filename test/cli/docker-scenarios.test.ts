import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDir, runCli } from '../support/cli.js';
import { LocalDnsServer } from '../support/dns-server.js';
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
import { dependentReadiness, flakyServer, forwardingLayer, type Layer } from '../support/layers.js';

/**
 * The scenarios of ../shared/scenarios.md that Docker can show, end to end: the real CLI, a
 * real dockerd, busybox containers on the host network, and real HTTP layers on 127.0.0.1.
 */
const engine = await startDockerEngine();
const skip = !engine && requireOrSkip(dockerEngineUnavailableReason());

describe.skipIf(skip)('healbot CLI against a real Docker engine', () => {
  let docker: Dockerode;
  let host: string;
  const dir = configDir();
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    docker = (engine as DockerEngine).docker;
    host = (engine as DockerEngine).host;
    await ensureTestImage(docker);
  });

  afterAll(async () => {
    await Promise.allSettled(closers.map((close) => close()));
    await removeTestContainers(docker);
    dir.cleanup();
  });

  const started = async (name: string) => (await docker.getContainer(name).inspect()).State.StartedAt;

  /** A backend container serving `/cgi-bin/ready`, and a proxy and public edge in front of it. */
  async function topology(firstMode: Parameters<typeof flakyServer>[1]) {
    const port = await freePort();
    const name = uniqueName('backend');
    await runContainer(docker, { name, cmd: flakyServer(port, firstMode) });
    await waitForContainer(docker, name, (info) => info.State.Running);
    const backendUrl = `http://127.0.0.1:${port}`;
    const proxy: Layer = await forwardingLayer(() => backendUrl);
    const edge: Layer = await forwardingLayer(() => proxy.url);
    closers.push(proxy.close, edge.close);
    const config = {
      services: {
        api: {
          docker: { container: name, host },
          probes: [
            { name: 'public', http: `${edge.url}/cgi-bin/ready`, timeoutMs: 1500 },
            { name: 'proxy', http: `${proxy.url}/cgi-bin/ready`, timeoutMs: 1500 },
            { name: 'internal', http: `${backendUrl}/cgi-bin/ready`, timeoutMs: 1000 },
          ],
        },
      },
      healing: { verifyTimeout: '20s' },
    };
    await expectEventually(async () => (await fetch(`${backendUrl}/`).catch(() => undefined)) !== undefined);
    return { name, port, proxy, edge, config };
  }

  it('scenario 1: public 502 while proxy and backend are healthy → layer_broken at the edge, no restart', async () => {
    const { name, edge, config } = await topology('ok');
    edge.mode = 'broken';
    const before = await started(name);
    const result = await runCli(['heal', 'api', '--config', dir.write('s1.yml', config), '--yes', '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.rootCause).toMatchObject({ kind: 'layer_broken', layer: 'public' });
    expect(result.json.plan.every((s: { risk: string }) => s.risk === 'manual')).toBe(true);
    expect(result.json.plan[0].reason).toMatch(/route 127\.0\.0\.1 → http:\/\/127\.0\.0\.1:\d+/);
    expect(result.json.actions).toEqual([]);
    expect(result.json.outcome).toBe('escalated');
    expect(result.json.summary).toMatch(/backend is healthy; nothing was restarted/);
    expect(await started(name)).toBe(before);
  });

  it('scenario 2: public and proxy 502, backend healthy → layer_broken at the proxy; the backend is not restarted', async () => {
    const { name, proxy, config } = await topology('ok');
    proxy.mode = 'broken';
    const before = await started(name);
    const result = await runCli(['diagnose', 'api', '--config', dir.write('s2.yml', config), '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.rootCause).toMatchObject({ kind: 'layer_broken', layer: 'proxy' });
    expect(result.json.plan.some((s: { target: string; action: string }) => s.action !== 'manual')).toBe(false);
    expect(await started(name)).toBe(before);
  });

  it('scenario 3: the backend container exited → service_down, started after approval, verified inside-out', async () => {
    const { name, config } = await topology('ok');
    await docker.getContainer(name).kill();
    await waitForContainer(docker, name, (info) => !info.State.Running);
    const result = await runCli(['heal', 'api', '--config', dir.write('s3.yml', config), '--yes', '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.rootCause.kind).toBe('service_down');
    expect(result.json.rootCause.summary).toMatch(/exited \(code 137/);
    expect(result.json.plan).toEqual([expect.objectContaining({ action: 'start', target: 'api', risk: 'risky' })]);
    expect(result.json.actions).toEqual([expect.objectContaining({ action: 'start', target: 'api', ok: true })]);
    expect(result.json.outcome).toBe('healed');
    expect(result.json.summary).toMatch(/healthy again in \d+\.\d s/);
    expect((await docker.getContainer(name).inspect()).State.Running).toBe(true);
  });

  it('a risky step is refused at the terminal when nobody answers yes, and nothing changes', async () => {
    const { name, config } = await topology('ok');
    await docker.getContainer(name).kill();
    await waitForContainer(docker, name, (info) => !info.State.Running);
    const result = await runCli(['heal', 'api', '--config', dir.write('s3n.yml', config), '--json'], { input: 'n\n' });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.outcome).toBe('denied');
    expect(result.json.actions).toEqual([]);
    expect((await docker.getContainer(name).inspect()).State.Running).toBe(false);
  });

  it('scenario 4: running but its probe times out → service_unhealthy, restarted, logs redacted', async () => {
    const { name, config } = await topology('slow');
    const diagnosis = await runCli(['diagnose', 'api', '--config', dir.write('s4.yml', config), '--json']);
    expect(diagnosis.json.rootCause.kind).toBe('service_unhealthy');
    expect(diagnosis.json.probes.find((p: { name: string }) => p.name === 'internal')).toMatchObject({
      ok: false,
      error: 'timed out',
    });
    expect(diagnosis.json.runtime.api.logs.join('\n')).toContain('serving in slow mode');
    expect(diagnosis.stdout).not.toContain('hunter2');
    const result = await runCli(['heal', 'api', '--config', dir.write('s4.yml', config), '--yes', '--json']);
    expect(result.json.actions).toEqual([expect.objectContaining({ action: 'restart', target: 'api', ok: true })]);
    expect(result.json.outcome).toBe('healed');
    const logs = await docker.getContainer(name).logs({ stdout: true, stderr: true });
    expect(logs.toString()).toContain('serving in ok mode');
  });

  it('a container that stays broken after its restart: verification ends once the failure is unchanged, not at the timeout', async () => {
    const port = await freePort();
    const name = uniqueName('stays-broken');
    const serve = commands.failingServer(port).join(' ');
    await runContainer(docker, { name, cmd: ['/bin/busybox', 'sh', '-c', `trap "exit 0" TERM; ${serve} & wait`] });
    await waitForContainer(docker, name, (info) => info.State.Running);
    const url = `http://127.0.0.1:${port}/cgi-bin/ready`;
    await expectEventually(async () => (await fetch(url).catch(() => undefined))?.status === 500);
    const config = {
      services: {
        api: { docker: { container: name, host }, probes: [{ name: 'internal', http: url, timeoutMs: 1000 }] },
      },
      // Far longer than the test may take: only an early end lets it pass.
      healing: { verifyTimeout: '10m', unchangedChecks: 3 },
    };
    const result = await runCli(['heal', 'api', '--config', dir.write('unchanged.yml', config), '--yes', '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.actions).toEqual([expect.objectContaining({ action: 'restart', ok: true })]);
    expect(result.json.outcome).toBe('failed');
    expect(result.json.summary).toMatch(/internal failed 3 times in a row exactly as before the fix \(500\)/);
  });

  it('scenario 4: running but its probe answers 500 → service_unhealthy', async () => {
    const { config } = await topology('error');
    const result = await runCli(['diagnose', 'api', '--config', dir.write('s4b.yml', config), '--json']);
    expect(result.json.rootCause.kind).toBe('service_unhealthy');
    expect(result.json.probes.find((p: { name: string }) => p.name === 'internal')).toMatchObject({
      ok: false,
      status: 500,
    });
  });

  it('scenario 5: every internal name fails to resolve → observer_blind, nothing is restarted', async () => {
    const { name, edge } = await topology('ok');
    const dns = await new LocalDnsServer({}).start();
    closers.push(() => dns.stop());
    const config = {
      observer: { dnsServers: [dns.address], network: 'portfolio_default' },
      services: {
        api: {
          docker: { container: name, host },
          probes: [
            { name: 'public', http: `${edge.url}/cgi-bin/ready` },
            { name: 'proxy', http: 'http://portfolio-nginx/ready', timeoutMs: 2000 },
            { name: 'internal', http: 'http://portfolio-api.int:8000/ready', timeoutMs: 2000 },
          ],
          dependsOn: ['db'],
        },
        db: {
          docker: { container: name, host },
          probes: [{ name: 'internal', tcp: 'postgres:5432', timeoutMs: 2000 }],
        },
      },
    };
    const before = await started(name);
    const result = await runCli(['heal', 'api', '--config', dir.write('s5.yml', config), '--yes', '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.rootCause.kind).toBe('observer_blind');
    expect(result.json.rootCause.summary).toMatch(/join healbot to the portfolio_default network/);
    expect(result.json.actions).toEqual([]);
    expect(result.json.outcome).toBe('escalated');
    expect(await started(name)).toBe(before);
  });

  it('scenario 11: an OOM-killed container → oom_killed, with the memory limit in the summary', async () => {
    const name = uniqueName('oom');
    await runContainer(docker, { name, cmd: commands.allocateForever(), memory: 16 * 1024 * 1024 });
    await waitForContainer(docker, name, (info) => info.State.OOMKilled === true && !info.State.Running);
    const config = { services: { worker: { docker: { container: name, host } } } };
    const result = await runCli(['heal', 'worker', '--config', dir.write('s11.yml', config), '--dry-run', '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.rootCause.kind).toBe('oom_killed');
    expect(result.json.rootCause.summary).toMatch(/memory limit 16 MiB/);
    expect(result.json.plan[0]).toMatchObject({ action: 'start', target: 'worker', risk: 'risky' });
    expect(result.json.plan[0].reason).toMatch(/raise the memory limit/);
    expect(result.json.actions).toEqual([]);
  });

  it('scenario 12: the dependency is down → dependency_down; the dependency is healed, not the dependent', async () => {
    const dbPort = await freePort();
    const db = uniqueName('db');
    await runContainer(docker, { name: db, cmd: commands.readyServer(dbPort) });
    const apiName = uniqueName('api');
    await runContainer(docker, { name: apiName, cmd: commands.hang() });
    await waitForContainer(docker, db, (info) => info.State.Running);
    const readiness = await dependentReadiness(() => dbPort);
    closers.push(readiness.close);
    await docker.getContainer(db).stop({ t: 0 });
    const config = {
      healing: { verifyTimeout: '20s' },
      services: {
        api: {
          docker: { container: apiName, host },
          probes: [{ name: 'internal', http: `${readiness.url}/ready` }],
          dependsOn: ['db'],
        },
        db: { docker: { container: db, host }, probes: [{ name: 'internal', tcp: `127.0.0.1:${dbPort}` }] },
      },
    };
    const apiBefore = await started(apiName);
    const result = await runCli(['heal', 'api', '--config', dir.write('s12.yml', config), '--yes', '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.rootCause).toMatchObject({ kind: 'dependency_down', layer: 'db' });
    expect(result.json.actions).toEqual([expect.objectContaining({ action: 'start', target: 'db', ok: true })]);
    expect(result.json.outcome).toBe('healed');
    expect(await started(apiName)).toBe(apiBefore);
  });

  it('scenario 13: after 3 heals within the window the breaker opens and the 4th only escalates', async () => {
    const { name, config } = await topology('ok');
    const withStore = { ...config, store: { path: dir.path('breaker.db') }, oncall: ['@oncall'] };
    const file = dir.write('s13.yml', withStore);
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      await docker.getContainer(name).kill();
      await waitForContainer(docker, name, (info) => !info.State.Running);
      const result = await runCli(['heal', 'api', '--config', file, '--yes', '--json']);
      outcomes.push(result.json.outcome);
      if (i === 3) {
        expect(result.json.actions).toEqual([]);
        expect(result.json.summary).toMatch(/breaker for api is open/);
      }
    }
    expect(outcomes).toEqual(['healed', 'healed', 'healed', 'escalated']);
    expect((await docker.getContainer(name).inspect()).State.Running).toBe(false);
  });
});

async function expectEventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('condition not met in time');
}

import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime, demultiplexDockerLogs, dockerClientFor, parseDockerHost } from '../../src/runtimes/docker.js';
import { watchDockerEvents, type DockerContainerEvent } from '../../src/runtimes/docker-events.js';
import { createRedactor } from '../../src/redact.js';
import { ConfigError, RuntimeError } from '../../src/errors.js';
import { dockerEngineUnavailableReason, requireOrSkip, startDockerEngine } from '../support/docker-engine.js';
import {
  commands,
  ensureTestImage,
  freePort,
  removeTestContainers,
  runContainer,
  uniqueName,
  waitForContainer,
} from '../support/images.js';

const redact = createRedactor();

describe('parseDockerHost', () => {
  it('reads unix sockets, bare paths and tcp hosts', () => {
    expect(parseDockerHost('unix:///var/run/docker.sock')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost('/tmp/d.sock')).toEqual({ socketPath: '/tmp/d.sock' });
    expect(parseDockerHost('tcp://127.0.0.1:2375')).toEqual({ host: '127.0.0.1', port: 2375, protocol: 'http' });
    expect(parseDockerHost('https://[::1]:2376')).toEqual({ host: '::1', port: 2376, protocol: 'https' });
  });

  it('rejects what is not a Docker host with a ConfigError naming the field', () => {
    expect(() => parseDockerHost('ftp://example')).toThrow(ConfigError);
    expect(() => parseDockerHost('unix://relative.sock')).toThrow(/docker\.host/);
  });

  it('shares one client per host', () => {
    expect(dockerClientFor('unix:///tmp/a.sock')).toBe(dockerClientFor('unix:///tmp/a.sock'));
    expect(dockerClientFor('unix:///tmp/a.sock')).not.toBe(dockerClientFor('unix:///tmp/b.sock'));
  });
});

describe('demultiplexDockerLogs', () => {
  const frame = (stream: number, text: string) => {
    const payload = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = stream;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };

  it('strips the 8-byte frame headers of stdout and stderr frames', () => {
    const data = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err one\n'), frame(1, 'out two\n')]);
    expect(demultiplexDockerLogs(data, false)).toBe('out one\nerr one\nout two\n');
  });

  it('returns TTY logs as they are', () => {
    expect(demultiplexDockerLogs(Buffer.from('plain\n'), true)).toBe('plain\n');
  });
});

describe('DockerRuntime without a daemon', () => {
  it('reports unknown with an error, rather than throwing, when Docker is unreachable', async () => {
    const runtime = new DockerRuntime(
      { container: 'api', host: 'unix:///tmp/healbot-no-such-dir/docker.sock' },
      { redact },
    );
    const state = await runtime.inspect();
    expect(state.status).toBe('unknown');
    expect(state.error).toMatch(/not reachable/);
    expect(state.error).toContain('container "api"');
  });

  it('refuses actions it does not support', async () => {
    const runtime = new DockerRuntime(
      { container: 'api', host: 'unix:///tmp/healbot-no-such-dir/docker.sock' },
      { redact },
    );
    expect(runtime.supports('scale')).toBe(false);
    expect(runtime.supports('restart')).toBe(true);
    await expect(runtime.perform({ action: 'scale' })).rejects.toThrow(RuntimeError);
  });

  it('turns an unreachable daemon into a RuntimeError naming the container', async () => {
    const runtime = new DockerRuntime(
      { container: 'api', host: 'unix:///tmp/healbot-no-such-dir/docker.sock' },
      { redact },
    );
    await expect(runtime.perform({ action: 'restart' })).rejects.toThrow(/restart of container "api" failed/);
  });
});

const engine = await startDockerEngine();
const skip = !engine && requireOrSkip(dockerEngineUnavailableReason());

describe.skipIf(skip)('DockerRuntime against a real dockerd', () => {
  // Assigned in beforeAll: a skipped describe still runs its body, where there is no engine.
  let docker: Dockerode;
  const runtimeFor = (config: { container?: string; labels?: Record<string, string> }) =>
    new DockerRuntime(config, { redact, docker });

  beforeAll(async () => {
    docker = engine!.docker;
    await ensureTestImage(docker);
  });

  afterAll(async () => {
    await removeTestContainers(docker).catch(() => {});
    await engine?.stop();
  });

  it('inspects a running container: status, limits, usage, networks and demultiplexed, redacted logs', async () => {
    const name = uniqueName('talker');
    await runContainer(docker, {
      name,
      memory: 64 * 1024 * 1024,
      cmd: commands.hang([
        'starting up',
        'password=hunter2',
        '!calling upstream with Bearer abcdefgh12345678',
        'listening',
      ]),
    });
    await waitForContainer(docker, name, (info) => info.State.Running);
    let state = await runtimeFor({ container: name }).inspect();
    // The lines are written right after start; wait until all four are there.
    for (let i = 0; i < 50 && (state.logs?.length ?? 0) < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      state = await runtimeFor({ container: name }).inspect();
    }
    expect(state.status).toBe('running');
    expect(state.target).toBe(name);
    expect(state.exitCode).toBeUndefined();
    expect(state.oomKilled).toBe(false);
    expect(state.health).toBe('none');
    expect(state.networks).toEqual(['host']);
    expect(state.memory?.limitBytes).toBe(64 * 1024 * 1024);
    // Memory usage is a stats read, slow on some engines: only when asked for.
    expect(state.memory?.usageBytes).toBeUndefined();
    const withMemory = await runtimeFor({ container: name }).inspect({ memory: true });
    expect(withMemory.memory?.usageBytes).toBeGreaterThan(0);
    expect(state.startedAt).toMatch(/^\d{4}-/);
    // stdout and stderr arrive through separate pipes, so only each stream's own order is certain.
    expect([...(state.logs ?? [])].sort()).toEqual([
      'calling upstream with Bearer [REDACTED]',
      'listening',
      'password=[REDACTED]',
      'starting up',
    ]);
    expect(state.logs?.filter((line) => line !== 'calling upstream with Bearer [REDACTED]')).toEqual([
      'starting up',
      'password=[REDACTED]',
      'listening',
    ]);
    const joined = JSON.stringify(state);
    expect(joined).not.toContain('hunter2');
    expect(joined).not.toContain('abcdefgh12345678');

    const tail = await runtimeFor({ container: name }).inspect({ logLines: 1 });
    expect(tail.logs).toHaveLength(1);
    expect(state.logs).toContain(tail.logs?.[0]);
  });

  it('inspects an exited container with its exit code and finish time', async () => {
    const name = uniqueName('exiter');
    await runContainer(docker, { name, cmd: commands.exitWith(3, ['fatal: config missing']) });
    await waitForContainer(docker, name, (info) => info.State.Status === 'exited');
    const state = await runtimeFor({ container: name }).inspect();
    expect(state.status).toBe('exited');
    expect(state.exitCode).toBe(3);
    expect(state.oomKilled).toBe(false);
    expect(state.finishedAt).toMatch(/^\d{4}-/);
    expect(state.logs).toEqual(['fatal: config missing']);
  });

  it('reports a missing container as missing', async () => {
    const state = await runtimeFor({ container: uniqueName('absent') }).inspect();
    expect(state.status).toBe('missing');
    expect(state.error).toBeUndefined();
  });

  it('reports an OOM-killed container with exit 137, OOMKilled and its memory limit', async () => {
    const name = uniqueName('oom');
    await runContainer(docker, { name, memory: 16 * 1024 * 1024, cmd: commands.allocateForever() });
    await waitForContainer(docker, name, (info) => info.State.Status === 'exited');
    const state = await runtimeFor({ container: name }).inspect();
    expect(state.status).toBe('exited');
    expect(state.oomKilled).toBe(true);
    expect(state.exitCode).toBe(137);
    expect(state.memory).toEqual({ limitBytes: 16 * 1024 * 1024 });
    expect(state.logs ?? []).not.toContain('survived');
  });

  it('reports a failing HEALTHCHECK as unhealthy, with the check output', async () => {
    const name = uniqueName('unhealthy');
    const port = await freePort();
    await runContainer(docker, {
      name,
      cmd: commands.failingServer(port),
      healthcheck: {
        test: ['/bin/busybox', 'wget', '-q', '-O', '-', `http://127.0.0.1:${port}/cgi-bin/ready`],
        intervalMs: 300,
        retries: 1,
      },
    });
    await waitForContainer(docker, name, (info) => info.State.Health?.Status === 'unhealthy');
    const state = await runtimeFor({ container: name }).inspect();
    expect(state.status).toBe('running');
    expect(state.health).toBe('unhealthy');
    expect(state.healthLog?.length).toBeGreaterThan(0);
    expect(state.healthLog?.at(-1)).toMatch(/^exit 1: .*500/);
  });

  it('reports a passing HEALTHCHECK as healthy while the server answers /ready with 200', async () => {
    const name = uniqueName('healthy');
    const port = await freePort();
    await runContainer(docker, {
      name,
      cmd: commands.readyServer(port),
      healthcheck: {
        test: ['/bin/busybox', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${port}/ready`],
        intervalMs: 300,
        retries: 1,
      },
    });
    await waitForContainer(docker, name, (info) => info.State.Health?.Status === 'healthy');
    const response = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(response.status).toBe(200);
    expect((await runtimeFor({ container: name }).inspect()).health).toBe('healthy');
  });

  it('start brings an exited container back to running', async () => {
    const name = uniqueName('starter');
    await runContainer(docker, { name, cmd: commands.hang(['up']) });
    await docker.getContainer(name).kill();
    await waitForContainer(docker, name, (info) => info.State.Status === 'exited');
    const runtime = runtimeFor({ container: name });
    expect((await runtime.inspect()).status).toBe('exited');
    await runtime.perform({ action: 'start' });
    expect((await runtime.inspect()).status).toBe('running');
    // Starting what already runs is not an error.
    await runtime.perform({ action: 'start' });
  });

  it('restart really restarts: a new start time and the container running', async () => {
    const name = uniqueName('restarter');
    await runContainer(docker, { name, cmd: commands.hang() });
    const before = await waitForContainer(docker, name, (info) => info.State.Running);
    const runtime = runtimeFor({ container: name });
    await runtime.perform({ action: 'restart', params: { stopGraceSeconds: 0 } });
    const after = await runtime.inspect();
    expect(after.status).toBe('running');
    expect(after.startedAt).not.toBe(before.State.StartedAt);
  });

  it('unpause resumes a paused container', async () => {
    const name = uniqueName('paused');
    const container = await runContainer(docker, { name, cmd: commands.hang() });
    await container.pause();
    const runtime = runtimeFor({ container: name });
    expect((await runtime.inspect()).status).toBe('paused');
    await runtime.perform({ action: 'unpause' });
    expect((await runtime.inspect()).status).toBe('running');
  });

  it('names the container when an action fails', async () => {
    const missing = uniqueName('ghost');
    await expect(runtimeFor({ container: missing }).perform({ action: 'restart' })).rejects.toThrow(
      new RegExp(`container "${missing}"`),
    );
  });

  it('finds a container by labels, preferring the running one and saying so', async () => {
    const service = uniqueName('svc');
    const stopped = uniqueName('old');
    const running = uniqueName('new');
    await runContainer(docker, {
      name: stopped,
      labels: { 'com.example.service': service },
      cmd: commands.exitWith(0),
    });
    await waitForContainer(docker, stopped, (info) => info.State.Status === 'exited');
    await runContainer(docker, { name: running, labels: { 'com.example.service': service }, cmd: commands.hang() });
    const state = await runtimeFor({ labels: { 'com.example.service': service } }).inspect();
    expect(state.target).toBe(running);
    expect(state.status).toBe('running');
    expect(state.note).toMatch(/2 containers match/);
    expect(state.note).toContain(stopped);

    const none = await runtimeFor({ labels: { 'com.example.service': uniqueName('nobody') } }).inspect();
    expect(none.status).toBe('missing');
  });

  it('times out an action instead of waiting forever', async () => {
    const name = uniqueName('slowstop');
    await runContainer(docker, { name, cmd: commands.hang() });
    // A shell as PID 1 ignores SIGTERM, so Docker waits the full grace period before killing it.
    const runtime = runtimeFor({ container: name });
    await expect(
      runtime.perform({ action: 'restart', params: { stopGraceSeconds: 30 } }, { timeoutMs: 300 }),
    ).rejects.toThrow(/timed out/);
  });

  it('sees a die event (with the exit code) after docker kill', async () => {
    const name = uniqueName('victim');
    await runContainer(docker, { name, cmd: commands.hang() });
    await waitForContainer(docker, name, (info) => info.State.Running);
    const controller = new AbortController();
    const events: DockerContainerEvent[] = [];
    const died = new Promise<DockerContainerEvent>((resolve) => {
      void watchDockerEvents(
        docker,
        (event) => {
          events.push(event);
          if (event.container === name && event.action === 'die') resolve(event);
        },
        { signal: controller.signal },
      );
    });
    // Give the watcher its connection before the kill.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await docker.getContainer(name).kill();
    const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5_000));
    const event = await Promise.race([died, timeout]);
    controller.abort();
    expect(event).toBeDefined();
    expect(event?.exitCode).toBe(137);
    expect(events.some((e) => e.container === name && e.action === 'kill')).toBe(true);
  });

  it('the watcher settles when aborted', async () => {
    const controller = new AbortController();
    const watching = watchDockerEvents(docker, () => {}, { signal: controller.signal });
    controller.abort();
    await expect(watching).resolves.toBeUndefined();
  });
});

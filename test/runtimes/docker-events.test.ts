import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterEach, describe, expect, it } from 'vitest';
import { toContainerEvent, watchDockerEvents, type DockerContainerEvent } from '../../src/runtimes/docker-events.js';

/** Events captured from dockerd 20.10 (create, start, health_status: unhealthy, kill, die of container "api"). */
const CAPTURED = readFileSync(new URL('../fixtures/docker/events-20.10.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n');

describe('toContainerEvent', () => {
  it('maps captured Docker events to healbot events, with the exit code of a die', () => {
    const events = CAPTURED.map((line) => toContainerEvent(JSON.parse(line)));
    expect(events.map((e) => e?.action)).toEqual([undefined, 'start', 'health_status: unhealthy', 'kill', 'die']);
    expect(events[4]).toEqual({ container: 'api', action: 'die', exitCode: 137, time: 1795459496223 });
    expect(events[3]?.exitCode).toBeUndefined();
  });

  it('ignores events of other types', () => {
    expect(toContainerEvent({ Type: 'network', Action: 'die', Actor: { Attributes: { name: 'x' } } })).toBeUndefined();
  });
});

/**
 * The Docker events endpoint as a local unix socket that serves captured events, so the
 * stream's end, reconnection and resumption can be driven precisely.
 */
describe('watchDockerEvents stream handling', () => {
  let server: http.Server | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('parses lines split and merged across chunks, reconnects when the stream ends, and resumes without repeats', async () => {
    dir = mkdtempSync('/tmp/healbot-events-');
    const socketPath = join(dir, 'docker.sock');
    const requests: URL[] = [];
    const [, start, unhealthy, kill, die] = CAPTURED;
    server = http.createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://docker');
      requests.push(url);
      response.writeHead(200, { 'Content-Type': 'application/json' });
      if (requests.length === 1) {
        // One event split across writes, two merged into one write, then the daemon goes away.
        const text = `${start}\n${unhealthy}\n`;
        response.write(text.slice(0, 17));
        setTimeout(() => response.write(text.slice(17, start.length + 40)), 10);
        setTimeout(() => response.end(text.slice(start.length + 40)), 20);
      } else {
        // Resuming from `since` replays the last event delivered; only the new ones may come out.
        response.write(`${unhealthy}\n${kill}\n${die}`);
        setTimeout(() => response.write('\n'), 10);
      }
    });
    await new Promise<void>((resolve) => server!.listen(socketPath, resolve));

    const docker = new Dockerode({ socketPath });
    const controller = new AbortController();
    const seen: DockerContainerEvent[] = [];
    const errors: unknown[] = [];
    const gotDie = new Promise<void>((resolve) => {
      void watchDockerEvents(
        docker,
        (event) => {
          seen.push(event);
          if (event.action === 'die') resolve();
        },
        { signal: controller.signal, onError: (error) => errors.push(error) },
      );
    });
    await Promise.race([gotDie, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    controller.abort();

    expect(seen.map((e) => e.action)).toEqual(['start', 'health_status: unhealthy', 'kill', 'die']);
    expect(seen.every((e) => e.container === 'api')).toBe(true);
    expect(requests).toHaveLength(2);
    const filters = JSON.parse(requests[0].searchParams.get('filters') ?? '{}');
    expect(filters.type).toEqual(['container']);
    expect(filters.event).toContain('die');
    expect(filters.event).toContain('health_status');
    expect(requests[1].searchParams.get('since')).toBe('1795459494.717373222');
    expect(errors.length).toBeGreaterThan(0);
  });

  it('keeps retrying while the daemon is unreachable, and settles when aborted', async () => {
    const docker = new Dockerode({ socketPath: '/tmp/healbot-no-such-dir/docker.sock' });
    const controller = new AbortController();
    const errors: unknown[] = [];
    const watching = watchDockerEvents(docker, () => {}, {
      signal: controller.signal,
      onError: (error) => {
        errors.push(error);
        if (errors.length === 2) controller.abort();
      },
    });
    await expect(watching).resolves.toBeUndefined();
    expect(errors).toHaveLength(2);
    expect(String((errors[0] as NodeJS.ErrnoException).code)).toBe('ENOENT');
  });
});

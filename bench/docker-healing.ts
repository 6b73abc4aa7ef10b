import { createHealbot, loadRuntimes } from '../src/app.js';
import { benchDockerEngine } from './docker-engine.js';
import { parseConfig } from '../src/config/load.js';
import { DockerMonitor } from '../src/monitor/docker-monitor.js';
import { watchDockerEvents, type DockerContainerEvent } from '../src/runtimes/docker-events.js';

const ROUNDS = 10;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const figures = (name: string, values: number[]) => ({
  [`${name}.median_ms`]: Math.round(median(values)),
  [`${name}.max_ms`]: Math.round(Math.max(...values)),
});

/**
 * Event-driven healing against healbot's test dockerd: a container with a 1 s Docker health
 * check is broken 10 times (its health file removed) and killed 10 times, healed by policy
 * through the Docker event stream; each figure beside what Docker itself took (its events'
 * times). (a) ends when Docker writes the restart's first `kill` event, the request having
 * reached it. Then 10 `docker stop`s, which must lead to no start.
 */
export async function benchDockerHealing(): Promise<Record<string, number | string>> {
  const found = await benchDockerEngine('docker_healing');
  if ('skipped' in found) return found.skipped;
  const { engine, images } = found;
  const name = images.uniqueName('bench-events');
  const watching = new AbortController();
  try {
    const container = await images.runContainer(engine.docker, {
      name,
      cmd: images.commands.serviceLike(),
      healthcheck: { test: ['/bin/busybox', 'cat', '/tmp/healthy'], intervalMs: 1000, retries: 1 },
    });
    const events: DockerContainerEvent[] = [];
    let wake = () => {};
    void watchDockerEvents(engine.docker, (event) => (events.push(event), wake()), {
      signal: watching.signal,
      filters: { container: [name] },
      since: Date.now() - 1000,
    });
    const next = async (
      action: DockerContainerEvent['action'],
      after: number,
      what = action,
    ): Promise<DockerContainerEvent> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const found = events.find((e) => e.action === action && e.time >= after);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no ${what} event from Docker within 30 s`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
    };
    await next('health_status: healthy', 0);

    const config = parseConfig({
      policy: { auto: ['start', 'restart'] },
      breaker: { threshold: 1000 },
      services: { app: { docker: { container: name, host: engine.host } } },
    });
    await loadRuntimes(config);
    const bot = createHealbot(config, { storePath: ':memory:' });
    const monitor = new DockerMonitor({ config, engine: bot.engine, store: bot.store, clientFor: () => engine.docker });
    const requests: { action: string; at: number }[] = [];
    bot.api.subscribe((event) => {
      if (event.type === 'action_started') requests.push({ action: event.step.action, at: Date.now() });
    });
    monitor.start();
    const idle = () => {
      const deadline = Date.now() + 30_000;
      return new Promise<void>((resolve, reject) => {
        const check = () =>
          Object.keys(bot.engine.openIncidents()).length === 0
            ? resolve()
            : Date.now() > deadline
              ? reject(new Error('an incident did not close within 30 s'))
              : setTimeout(check, 20);
        check();
      });
    };
    const untilRequest = async (action: string, after: number) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const found = requests.find((r) => r.action === action && r.at >= after);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`healbot did not ${action} within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const toDecision: number[] = [];
    const toRequest: number[] = [];
    const toHealthy: number[] = [];
    const dockerRestart: number[] = [];
    const killToRunning: number[] = [];
    const dockerStart: number[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const before = Date.now();
        await images.execIn(engine.docker, name, ['/bin/busybox', 'rm', '-f', '/tmp/healthy']);
        const unhealthy = await next('health_status: unhealthy', before);
        const request = await untilRequest('restart', before);
        const stopping = await next('kill', request.at - 50);
        const started = await next('start', request.at - 50);
        const healthy = await next('health_status: healthy', started.time);
        toDecision.push(request.at - unhealthy.time);
        toRequest.push(stopping.time - unhealthy.time);
        toHealthy.push(healthy.time - unhealthy.time);
        dockerRestart.push(started.time - stopping.time);
        await idle();
      }
      for (let round = 0; round < ROUNDS; round++) {
        const before = Date.now();
        await container.kill();
        const killed = await next('kill', before);
        const request = await untilRequest('start', before);
        const started = await next('start', request.at - 50);
        killToRunning.push(started.time - killed.time);
        dockerStart.push(started.time - request.at);
        await next('health_status: healthy', started.time);
        await idle();
      }
      let startsAfterStop = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const before = Date.now();
        await container.stop({ t: 5 });
        await next('stop', before);
        // Long enough for an event-driven start (median above: tens of ms) to have happened.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await idle();
        if ((await container.inspect()).State.Running || requests.some((r) => r.at >= before)) startsAfterStop++;
        await container.start();
        await next('health_status: healthy', before);
      }
      return {
        'docker_healing.rounds': ROUNDS,
        'docker_healing.health_check_interval_ms': 1000,
        ...figures('docker_healing.a_unhealthy_to_healbot_acting', toDecision),
        ...figures('docker_healing.a_unhealthy_to_restart_request_at_docker', toRequest),
        ...figures('docker_healing.b_unhealthy_to_healthy', toHealthy),
        ...figures('docker_healing.docker_restart_kill_to_start', dockerRestart),
        ...figures('docker_healing.c_kill_to_running', killToRunning),
        ...figures('docker_healing.docker_start_request_to_start', dockerStart),
        'docker_healing.b_minus_restart_and_interval_median_ms': Math.round(
          median(toHealthy) - median(dockerRestart) - 1000,
        ),
        'docker_healing.restarts_after_docker_stop': `${startsAfterStop} of ${ROUNDS}`,
      };
    } finally {
      await monitor.stop();
      await bot.close();
    }
  } finally {
    watching.abort();
    await engine.docker
      .getContainer(name)
      .remove({ force: true })
      .catch(() => undefined);
    await engine.stop();
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentRecord } from '../../src/engine/api.js';
import {
  dockerEngineUnavailableReason,
  requireOrSkip,
  startDockerEngine,
  type DockerEngine,
} from '../support/docker-engine.js';
import {
  commands,
  execIn,
  freePort,
  removeTestContainers,
  runContainer,
  uniqueName,
  waitForContainer,
} from '../support/images.js';
import { startTestBot, waitFor, type TestBot } from '../serve/harness.js';

const engine: DockerEngine | undefined = await startDockerEngine();
const skip = !engine && requireOrSkip(dockerEngineUnavailableReason());
afterAll(async () => {
  if (!engine) return;
  await removeTestContainers(engine.docker);
  await engine.stop();
});

/**
 * `healbot serve` on a real dockerd, healing by policy (`auto: [start, restart]` set once at the
 * top level): a crash is healed, a stop on purpose is reported and left alone.
 */
describe.skipIf(skip)('Docker healing respects intent', () => {
  let bot: TestBot;
  const names = {
    stopped: uniqueName('intent-stop'),
    stubborn: uniqueName('intent-stubborn'),
    killed: uniqueName('intent-kill'),
    crashed: uniqueName('intent-crash'),
    paused: uniqueName('intent-pause'),
    downed: uniqueName('intent-down'),
  };

  beforeAll(async () => {
    for (const name of Object.values(names))
      await runContainer(engine!.docker, {
        name,
        cmd: name === names.stubborn ? commands.hang() : commands.serviceLike(),
      });
    bot = await startTestBot({
      policy: { auto: ['start', 'restart', 'unpause'] },
      services: Object.fromEntries(
        Object.entries(names).map(([service, name]) => [service, { docker: { container: name, host: engine!.host } }]),
      ),
      healing: { verifyTimeout: '20s' },
    });
  });
  afterAll(() => bot?.close());

  const audit = () => bot.bot.store.listAudit();
  const closedIncident = (service: string) =>
    waitFor(
      async () => (await bot.bot.store.listIncidents({ service, status: 'closed' }))[0] as IncidentRecord | undefined,
      `a closed incident for ${service}`,
      30_000,
    );
  const actions = async (service: string) =>
    (await audit()).filter((e) => e.service === service && e.event === 'action');
  const running = async (name: string) => (await engine!.docker.getContainer(name).inspect()).State;

  it('a docker stop (clean exit) is reported in the service thread and the container stays stopped', async () => {
    await engine!.docker.getContainer(names.stopped).stop({ t: 5 });
    const incident = await closedIncident('stopped');
    expect(incident.source).toBe('event');
    expect(incident.outcome).toBe('not_needed');
    expect(incident.summary).toMatch(/stopped through the Docker API \(docker stop at \d\d:\d\d:\d\d UTC\)/);
    expect(incident.summary).toMatch(/healbot will not start it unasked/);
    expect(await actions('stopped')).toEqual([]);
    expect((await running(names.stopped)).Running).toBe(false);
  });

  it('a docker stop that has to fall back on SIGKILL (exit 137) is still a stop on purpose', async () => {
    await engine!.docker.getContainer(names.stubborn).stop({ t: 1 });
    const incident = await closedIncident('stubborn');
    expect(incident.outcome).toBe('not_needed');
    expect(incident.summary).toMatch(/docker stop at/);
    expect(await actions('stubborn')).toEqual([]);
    expect((await running(names.stubborn)).ExitCode).toBe(137);
    expect((await running(names.stubborn)).Running).toBe(false);
  });

  it('docker kill (SIGKILL) is a crash: the container is started again by policy', async () => {
    await engine!.docker.getContainer(names.killed).kill();
    const incident = await closedIncident('killed');
    expect(incident.outcome).toBe('healed');
    expect(incident.summary).toMatch(
      /started killed automatically; healthy again in \d+\.\d s from the first failure signal/,
    );
    expect((await actions('killed')).map((e) => (e.detail.step as { action: string }).action)).toEqual(['start']);
    expect((await running(names.killed)).Running).toBe(true);

    // Killed again right after it was healed: a new failure (its event comes after the close), started again.
    await engine!.docker.getContainer(names.killed).kill();
    const again = await waitFor(
      async () =>
        (await bot.bot.store.listIncidents({ service: 'killed', status: 'closed' })).find((i) => i.id !== incident.id),
      'a second incident for the second kill',
      20_000,
    );
    expect(again.outcome).toBe('healed');
    expect((await actions('killed')).map((e) => (e.detail.step as { action: string }).action)).toEqual([
      'start',
      'start',
    ]);
    expect((await running(names.killed)).Running).toBe(true);
  });

  it('a non-zero exit of its own is a crash: started again, and the time to heal is in the audit', async () => {
    await execIn(engine!.docker, names.crashed, ['/bin/busybox', 'touch', '/tmp/crash']);
    const incident = await closedIncident('crashed');
    expect(incident.outcome).toBe('healed');
    const outcome = (await audit()).find((e) => e.incidentId === incident.id && e.event === 'outcome');
    expect(outcome?.detail.timeToHealMs).toEqual(expect.any(Number));
    expect((await running(names.crashed)).Running).toBe(true);
  });

  it('docker compose down (stop, then remove) is reported once as a stop on purpose, with nothing to escalate', async () => {
    const container = engine!.docker.getContainer(names.downed);
    await container.stop({ t: 5 });
    await container.remove();
    const incident = await closedIncident('downed');
    expect(incident.outcome).toBe('not_needed');
    expect(incident.summary).toMatch(/stopped through the Docker API \(docker stop at/);
    expect(await actions('downed')).toEqual([]);
    expect(await bot.bot.store.listIncidents({ service: 'downed' })).toHaveLength(1);
  });

  it('a paused container is reported and not unpaused, though unpause is in auto', async () => {
    await engine!.docker.getContainer(names.paused).pause();
    const incident = await closedIncident('paused');
    expect(incident.outcome).toBe('not_needed');
    expect(incident.summary).toMatch(/paused through the Docker API \(docker pause at/);
    expect(await actions('paused')).toEqual([]);
    expect((await running(names.paused)).Paused).toBe(true);
  });

  it('when a person asks (/heal), Start is offered as a step that needs an approval, whatever auto says', async () => {
    const events: string[] = [];
    const unsubscribe = bot.bot.api.subscribe((event) => {
      if (event.type === 'awaiting_approval') {
        events.push(`${event.request.step.action} ${event.request.step.target} ${event.request.step.risk}`);
        void bot.bot.api.decide(event.request.id, { platform: 'console', id: 'ana', display: '@ana' }, 'approve');
      }
    });
    try {
      const report = await bot.bot.api.heal({
        service: 'stopped',
        source: 'chat',
        requestedBy: { platform: 'console', id: 'ana', display: '@ana' },
      });
      expect(events).toEqual(['start stopped risky']);
      expect(report.plan[0]).toEqual(expect.objectContaining({ action: 'start', askFirst: true }));
      expect(report.outcome).toBe('healed');
      expect(report.approvedBy).toEqual(['@ana']);
    } finally {
      unsubscribe();
    }
    await waitForContainer(engine!.docker, names.stopped, (info) => info.State.Running);
  });
});

/** Follow-ups at the engine's speed: a fix that does not hold leads to the next attempt, and an unchanged failure ends verification early. */
describe.skipIf(skip)('Docker follow-ups are driven by events', () => {
  let bot: TestBot;
  const broken = uniqueName('relapse');

  beforeAll(async () => {
    // Its health check never passes: every restart turns unhealthy again after one 300 ms check.
    await runContainer(engine!.docker, {
      name: broken,
      cmd: commands.serviceLike(),
      healthcheck: { test: ['/bin/busybox', 'cat', '/tmp/never'], intervalMs: 300, retries: 1 },
    });
    bot = await startTestBot({
      policy: { auto: ['start', 'restart'] },
      breaker: { threshold: 2, window: '1h' },
      services: { broken: { docker: { container: broken, host: engine!.host } } },
      healing: { verifyTimeout: '60s' },
    });
  });
  afterAll(() => bot?.close());

  it('an unhealthy container that turns unhealthy again after its restart: evidence, the next attempt, then the breaker escalates', async () => {
    const incidents = await waitFor(
      async () => {
        const all = await bot.bot.store.listIncidents({ service: 'broken' });
        return all.length >= 3 && all[0].outcome === 'escalated' && all;
      },
      'two failed attempts and an escalated incident',
      50_000,
    );
    const [third, second, first] = incidents;
    expect(first.outcome).toBe('failed');
    expect(first.summary).toMatch(/health check fails again/);
    expect(
      (await bot.bot.store.listAudit()).some(
        (e) =>
          e.incidentId === first.id &&
          e.event === 'info' &&
          /after healbot's action: the fix did not hold/.test(String(e.detail.message)),
      ),
    ).toBe(true);
    const requested = (await bot.bot.store.listAudit()).find(
      (e) => e.incidentId === second.id && e.event === 'requested',
    );
    expect(String(requested?.detail.summary)).toMatch(/turned unhealthy .* again after healbot's restart/);
    expect(second.outcome).toBe('failed');
    expect([first.status, second.status]).toEqual(['closed', 'closed']);
    expect(third.outcome).toBe('escalated');
    // Escalated is not an end: the failure goes on, so the incident stays open for later signals to join.
    expect(third.status).toBe('open');
    expect(third.summary).toMatch(/breaker for broken is open/);
    expect(
      (await bot.bot.store.listAudit()).filter((e) => e.service === 'broken' && e.event === 'action'),
    ).toHaveLength(2);
  });
});

/** The probe monitor's door: a container stopped before healbot started is found by its failing probe, read from Docker's events, and left alone. */
describe.skipIf(skip)('monitoring respects a stop made before healbot started', () => {
  let bot: TestBot;
  const name = uniqueName('intent-probed');

  beforeAll(async () => {
    const port = await freePort();
    const serve = commands.readyServer(port).join(' ');
    await runContainer(engine!.docker, {
      name,
      cmd: ['/bin/busybox', 'sh', '-c', `trap "exit 0" TERM; ${serve} & wait`],
    });
    await waitForContainer(engine!.docker, name, (info) => info.State.Running);
    await engine!.docker.getContainer(name).stop({ t: 5 });
    bot = await startTestBot({
      policy: { auto: ['start', 'restart'] },
      services: {
        web: {
          docker: { container: name, host: engine!.host },
          probes: [{ name: 'internal', http: `http://127.0.0.1:${port}/ready`, timeoutMs: 1000 }],
        },
      },
      // No grouping window: only the stop on purpose keeps the second round from opening another incident.
      monitor: { dockerEvents: false, groupWindow: 1 },
    });
  });
  afterAll(() => bot?.close());

  it('opens one incident that changes nothing, and no more while the container stays stopped', async () => {
    expect(await bot.monitor.tick()).toEqual(['web']);
    const incident = await waitFor(
      async () => (await bot.bot.store.listIncidents({ service: 'web', status: 'closed' }))[0],
      'the monitoring incident to close',
      20_000,
    );
    expect(incident.source).toBe('monitor');
    expect(incident.outcome).toBe('not_needed');
    expect(incident.summary).toMatch(
      /stopped through the Docker API \(docker stop at .*healbot will not start it unasked/,
    );
    expect((await engine!.docker.getContainer(name).inspect()).State.Running).toBe(false);
    expect(await bot.monitor.tick()).toEqual(['web']);
    expect(await bot.bot.store.listIncidents({ service: 'web' })).toHaveLength(1);
  });
});

/** A container created after healbot started: its start event lifts the grouping of the earlier "does not exist" incident. */
describe.skipIf(skip)('a container that appears after startup', () => {
  let bot: TestBot;
  const name = uniqueName('intent-late');
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    bot = await startTestBot({
      services: {
        late: {
          docker: { container: name, host: engine!.host },
          probes: [{ name: 'internal', http: `http://127.0.0.1:${port}/cgi-bin/ready`, timeoutMs: 1000 }],
        },
      },
      healing: { enabled: false },
    });
  });
  afterAll(() => bot?.close());

  it('is picked up from its start event: the next failing round opens an incident at once, not after the group window', async () => {
    expect(await bot.monitor.tick()).toEqual(['late']);
    // Healing is off: the incident escalates and stays open while the container is missing.
    const missing = await waitFor(
      async () => (await bot.bot.store.listIncidents({ service: 'late' })).find((i) => i.outcome === 'escalated'),
      'the first incident',
      20_000,
    );
    expect(missing.summary).toMatch(/does not exist/);
    // Created only now, and broken: it answers 500.
    await runContainer(engine!.docker, { name, cmd: commands.failingServer(port) });
    await waitFor(
      async () =>
        (await bot.bot.store.listAudit()).some(
          (e) => e.service === 'late' && e.event === 'info' && e.detail.action === 'start',
        ),
      'the start to be seen',
      20_000,
    );
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/cgi-bin/ready`).catch(() => undefined))?.status === 500,
      'the server to answer',
    );
    expect(await bot.monitor.tick()).toEqual(['late']);
    const second = await waitFor(
      async () => (await bot.bot.store.listIncidents({ service: 'late' })).find((i) => i.id !== missing.id),
      'a second incident within the group window',
      20_000,
    );
    expect(second.source).toBe('monitor');
    // The start event ended the first incident: its failure (no container) is over.
    expect(await bot.bot.store.getIncident(missing.id)).toMatchObject({
      status: 'closed',
      summary: expect.stringContaining('its container was started again'),
    });
    // Healing is off and the server keeps failing: the second incident escalates and stays open.
    await waitFor(
      async () => (await bot.bot.store.getIncident(second.id))?.outcome === 'escalated',
      'the second incident to escalate',
      20_000,
    );
    expect((await bot.bot.store.getIncident(second.id))?.status).toBe('open');
    expect(await bot.monitor.tick()).toEqual(['late']);
    expect(await bot.bot.store.listIncidents({ service: 'late' })).toHaveLength(2);
  });
});

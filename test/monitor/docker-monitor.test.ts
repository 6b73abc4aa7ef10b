import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dockerEngineUnavailableReason,
  requireOrSkip,
  startDockerEngine,
  type DockerEngine,
} from '../support/docker-engine.js';
import { commands, removeTestContainers, runContainer, uniqueName } from '../support/images.js';
import { startTestBot, waitFor, type TestBot } from '../serve/harness.js';

const engine: DockerEngine | undefined = await startDockerEngine();
const skip = !engine && requireOrSkip(dockerEngineUnavailableReason());

/** Event-driven detection on a real dockerd: no polling, an incident the moment a container dies. */
describe.skipIf(skip)('Docker event monitoring', () => {
  const api = uniqueName('events-api');
  let bot: TestBot;

  beforeAll(async () => {
    bot = await startTestBot({
      services: {
        api: { docker: { container: api, host: engine!.host } },
        web: { docker: { labels: { 'healbot.events-test': api }, host: engine!.host } },
      },
      // Diagnose and report only: this test is about detection.
      healing: { enabled: false },
    });
  });
  afterAll(async () => {
    await bot?.close();
    if (engine) {
      await removeTestContainers(engine.docker);
      await engine.stop();
    }
  });

  const audit = () => bot.bot.store.listAudit();

  it('reports a start healbot did not cause, then opens an incident when the container dies', async () => {
    const container = await runContainer(engine!.docker, { name: api, cmd: commands.hang() });
    await waitFor(
      async () => (await audit()).some((e) => e.service === 'api' && e.event === 'info' && e.detail.action === 'start'),
      'the start to be reported',
      20_000,
    );
    expect(await bot.bot.store.listIncidents({ service: 'api' })).toHaveLength(0);
    await container.kill();
    const incident = await waitFor(
      async () => (await bot.bot.store.listIncidents({ service: 'api' }))[0],
      'an incident from the die event',
      20_000,
    );
    expect(incident.source).toBe('event');
    const requested = (await audit()).find((e) => e.incidentId === incident.id && e.event === 'requested');
    expect(String(requested?.detail.summary)).toMatch(new RegExp(`container ${api} died \\(exit 137`));
    // Healing is off: the incident escalates and stays open while the failure lasts.
    await waitFor(
      async () => (await bot.bot.store.getIncident(incident.id))?.outcome === 'escalated' || undefined,
      'the incident to escalate',
      30_000,
    );
    expect((await bot.bot.store.getIncident(incident.id))?.status).toBe('open');
    await container.start();
    const noted = await waitFor(
      async () =>
        (await audit()).find((e) => e.incidentId === incident.id && e.event === 'info' && e.detail.action === 'start'),
      'the start to be told in the last incident',
      20_000,
    );
    expect(String(noted.detail.message)).toMatch(/healbot did not cause it/);
  });

  it('maps containers to services by labels', async () => {
    const name = uniqueName('events-web');
    const container = await runContainer(engine!.docker, {
      name,
      cmd: commands.exitWith(3),
      labels: { 'healbot.events-test': api },
    });
    const incident = await waitFor(
      async () => (await bot.bot.store.listIncidents({ service: 'web' }))[0],
      'an incident for the labelled container',
      20_000,
    );
    expect(incident.source).toBe('event');
    expect(
      String((await audit()).find((e) => e.incidentId === incident.id && e.event === 'requested')?.detail.summary),
    ).toContain('exit 3');
    await container.remove({ force: true });
  });
});

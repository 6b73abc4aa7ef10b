import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../commands/index.js';
import { contextMessage } from '../../commands/present.js';
import type { Actor } from '../../src/engine/api.js';
import type { Incident } from '../../src/engine/types.js';
import { freePort } from '../../src/free-port.js';
import { alertmanagerUnavailable, startAlertmanager, type Alertmanager } from '../support/alertmanager.js';
import { requireOrSkip } from '../support/docker-engine.js';
import { json } from '../support/http.js';
import { startBackend, startTestBot, TOKEN, waitFor, type TestBot } from './harness.js';

const unavailable = alertmanagerUnavailable();
const skip = unavailable !== undefined && requireOrSkip(unavailable);

const ONCALL: Actor = { platform: 'slack', id: 'U0ONCALL', display: '<@U0ONCALL>' };
const STRANGER: Actor = { platform: 'slack', id: 'U0STRANGER', display: '<@U0STRANGER>' };

interface ApiSilence {
  id: string;
  status: { state: 'active' | 'expired' | 'pending' };
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  createdBy: string;
  endsAt: string;
}

/** Silences from chat against a real Alertmanager, which delivers the alert to healbot's webhook. */
describe.skipIf(skip)('silencing an Alertmanager alert from its thread', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let bot: TestBot;
  let alertmanager: Alertmanager;
  const started: Incident[] = [];
  const notes: string[] = [];
  const labels = { alertname: 'HighErrorRate', service: 'api', severity: 'critical' };

  beforeAll(async () => {
    backend = await startBackend();
    backend.status = 503;
    const port = await freePort();
    alertmanager = await startAlertmanager({
      webhookUrl: `http://127.0.0.1:${port}/webhooks/alertmanager`,
      token: TOKEN,
    });
    bot = await startTestBot(
      {
        services: { api: { probes: [{ name: 'internal', http: backend.url }] } },
        healing: { approvers: ['U0ONCALL'] },
        alertmanager: { url: alertmanager.url },
      },
      { listen: `127.0.0.1:${port}` },
    );
    bot.bot.engine.subscribe((event) => {
      if (event.type === 'started') started.push(event.incident);
      if (event.type === 'info') notes.push(event.message);
    });
    await alertmanager.pushAlerts([
      {
        labels,
        annotations: {
          summary: 'api answers 5xx',
          description: 'More than 5% of api requests failed for 5 minutes.',
          runbook_url: 'https://runbooks.example.com/api-5xx',
        },
      },
    ]);
  });
  afterAll(async () => {
    await alertmanager?.stop();
    await bot?.close();
    await backend?.close();
  });

  const silences = async (): Promise<ApiSilence[]> => json(await fetch(`${alertmanager.url}/api/v2/silences`));

  it('starts the thread with the alert’s context and offers Silence 1h / 4h / 24h', async () => {
    const incident = await waitFor(
      () => started.find((i) => i.source === 'webhook'),
      'the alert to open an incident',
      20_000,
    );
    expect(incident.context).toMatchObject({
      summary: 'api answers 5xx',
      description: 'More than 5% of api requests failed for 5 minutes.',
      labels,
      source: 'alertmanager',
      silenceable: true,
    });
    expect(incident.context!.links[0]).toEqual({ label: 'Runbook', url: 'https://runbooks.example.com/api-5xx' });
    const message = contextMessage(incident.context!, incident.id);
    expect(message.buttons?.map((b) => [b.label, b.value])).toEqual([
      ['Silence 1h', `silence ${incident.id} 1h`],
      ['Silence 4h', `silence ${incident.id} 4h`],
      ['Silence 24h', `silence ${incident.id} 24h`],
    ]);
  });

  it('refuses a silence from someone who is not an approver, creating nothing', async () => {
    const incident = started.find((i) => i.source === 'webhook')!;
    const reply = await runCommand(bot.bot.api, { actor: STRANGER, text: `silence ${incident.id} 1h` });
    expect(reply.message).toMatchObject({ tone: 'error' });
    expect(reply.message.text).toMatch(/only approvers of api may silence/);
    expect(await silences()).toEqual([]);
  });

  it('creates an Alertmanager silence for exactly the alert’s labels, says who and until when, and expires it again', async () => {
    const incident = started.find((i) => i.source === 'webhook')!;
    const before = Date.now();
    const reply = await runCommand(bot.bot.api, { actor: ONCALL, text: `silence ${incident.id} 4h` });
    expect(reply.visibility).toBe('channel');
    expect(reply.message.text).toMatch(
      /^Silenced by <@U0ONCALL> until \d{4}-\d\d-\d\d \d\d:\d\d UTC \(Alertmanager silence `[0-9a-f-]+`\)\.$/,
    );
    const [silence] = await silences();
    expect(silence.status.state).toBe('active');
    expect(silence.matchers.map((m) => [m.name, m.value, m.isRegex, m.isEqual]).sort()).toEqual(
      Object.entries(labels)
        .map(([k, v]) => [k, v, false, true])
        .sort(),
    );
    expect(silence.createdBy).toBe('healbot for <@U0ONCALL>');
    const hours = (Date.parse(silence.endsAt) - before) / 3_600_000;
    expect(hours).toBeGreaterThan(3.99);
    expect(hours).toBeLessThan(4.01);
    expect(reply.message.text).toContain(silence.id);
    expect((await bot.bot.store.getIncident(incident.id))?.silence).toMatchObject({
      id: silence.id,
      by: '<@U0ONCALL>',
    });
    expect(notes.some((n) => n.startsWith('Silenced by <@U0ONCALL> until') && n.includes(silence.id))).toBe(true);

    const expire = reply.message.buttons?.find((b) => b.label === 'Expire silence');
    expect(expire).toMatchObject({ action: 'command', value: `unsilence ${incident.id}` });
    const expired = await runCommand(bot.bot.api, { actor: ONCALL, text: expire!.value });
    expect(expired.message.text).toContain(`Silence \`${silence.id}\` expired by <@U0ONCALL>`);
    expect((await silences()).find((s) => s.id === silence.id)?.status.state).toBe('expired');
    expect((await bot.bot.store.getIncident(incident.id))?.silence).toMatchObject({
      id: silence.id,
      expiredBy: '<@U0ONCALL>',
    });
    const again = await runCommand(bot.bot.api, { actor: ONCALL, text: expire!.value });
    expect(again.message.text).toMatch(/has no silence to expire/);
  });

  it('says what is wrong with a silence it cannot make', async () => {
    const incident = started.find((i) => i.source === 'webhook')!;
    const tooLong = await runCommand(bot.bot.api, { actor: ONCALL, text: `silence ${incident.id} 30d` });
    expect(tooLong.message.text).toMatch(/a silence lasts from 1 minute to 24 hours/);
    const noUnit = await runCommand(bot.bot.api, { actor: ONCALL, text: `silence ${incident.id} 4` });
    expect(noUnit.message.text).toMatch(/is not a duration/);
    const unknown = await runCommand(bot.bot.api, { actor: ONCALL, text: 'silence inc_00000000 1h' });
    expect(unknown.message.text).toBe('there is no incident inc_00000000');
    await waitFor(() => Object.keys(bot.bot.engine.openIncidents()).length === 0, 'the alert’s incident to end');
    // The alert's incident escalated and stays open; once someone resolves it, /heal opens one of its own.
    const resolved = await runCommand(bot.bot.api, { actor: ONCALL, text: `resolve ${incident.id}` });
    expect(resolved.message.text).toMatch(new RegExp(incident.id));
    const report = await bot.bot.engine.heal({ service: 'api', source: 'chat', requestedBy: ONCALL });
    expect(report.incidentId).not.toBe(incident.id);
    const chat = await runCommand(bot.bot.api, { actor: ONCALL, text: `silence ${report.incidentId} 1h` });
    expect(chat.message.text).toMatch(/did not come from an Alertmanager alert/);
    expect((await silences()).filter((s) => s.status.state === 'active')).toEqual([]);
  });
});

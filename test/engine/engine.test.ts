import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHealbot, type Healbot } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { Actor } from '../../src/engine/api.js';
import { diagnose, runProbe } from '../../src/engine/diagnose.js';
import type { HealReport, ProgressEvent } from '../../src/engine/types.js';
import { PermissionDenied, UnknownServiceError } from '../../src/errors.js';
import type { Probe } from '../../src/probes/probe.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { HttpTarget } from '../support/http-target.js';

/**
 * The whole pipeline against real parts on loopback: HTTP probes against a controllable
 * backend, a `command` runtime whose restart is a real process that flips the backend back to
 * healthy through its control URL, and a SQLite store on disk.
 */
const node = process.execPath;
const ana: Actor = { platform: 'slack', id: 'U_ANA', display: '@ana' };
const bo: Actor = { platform: 'slack', id: 'U_BO', display: '@bo' };
const eve: Actor = { platform: 'slack', id: 'U_EVE', display: '@eve' };
const operator: Actor = { platform: 'cli', id: 'root' };

/** argv of a process that GETs `url` and exits 0 when it answered 2xx. */
const fetchArgv = (url: string) => [
  node,
  '-e',
  `fetch(${JSON.stringify(url)}).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(2))`,
];

let dir: string;
let target: HttpTarget;
const bots: Healbot[] = [];
const stores: SqliteStore[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'healbot-engine-'));
  target = await new HttpTarget('error').start();
});

afterEach(async () => {
  for (const bot of bots.splice(0)) await bot.close();
  for (const store of stores.splice(0)) await store.close();
  await target.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Options {
  policy?: Record<string, unknown>;
  restart?: 'fixes' | 'does-nothing' | 'fails';
  healingEnabled?: boolean;
  breaker?: Record<string, unknown>;
  storeFile?: string;
  approve?: Actor | false;
  deny?: Actor;
}

function start(options: Options = {}) {
  const restart = {
    fixes: fetchArgv(target.controlUrl('ok')),
    'does-nothing': [node, '-e', 'process.exit(0)'],
    fails: [node, '-e', 'console.error("unit api.service not found; password=hunter2"); process.exit(5)'],
  }[options.restart ?? 'fixes'];
  const config = parseConfig({
    healing: { verifyTimeout: '1500ms', actionTimeout: '10s', approvalTimeout: '30s', approvers: ['U_ANA', 'U_BO'] },
    oncall: ['<@U0ONCALL>'],
    ...(options.breaker ? { breaker: options.breaker } : {}),
    services: {
      api: {
        command: { restart, status: [node, '-e', 'process.exit(0)'] },
        probes: [{ name: 'internal', http: target.readyUrl, timeoutMs: '1s' }],
        policy: options.policy ?? {},
      },
    },
  });
  const store = new SqliteStore(options.storeFile ?? join(dir, 'healbot.db'));
  stores.push(store);
  const bot = createHealbot(config, { store, healingEnabled: options.healingEnabled });
  bots.push(bot);
  const events: ProgressEvent[] = [];
  bot.api.subscribe((event) => {
    events.push(event);
    if (event.type !== 'awaiting_approval') return;
    if (options.deny) setTimeout(() => void bot.api.decide(event.request.id, options.deny!, 'deny'), 5);
    else if (options.approve !== false)
      setTimeout(() => void bot.api.decide(event.request.id, options.approve || ana, 'approve'), 5);
  });
  return { bot, store, events, config };
}

const waitForEvent = (
  events: ProgressEvent[],
  type: ProgressEvent['type'],
  timeoutMs = 10_000,
): Promise<ProgressEvent> =>
  new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      const found = events.find((e) => e.type === type);
      if (found) return resolve(found);
      if (Date.now() - started > timeoutMs)
        return reject(
          new Error(`no ${type} event within ${timeoutMs} ms; saw ${events.map((e) => e.type).join(', ')}`),
        );
      setTimeout(poll, 10);
    };
    poll();
  });

/** Breaks the backend and heals it once with `restart` allowed by policy. */
async function breakAndHeal(bot: Healbot): Promise<HealReport> {
  target.mode = 'error';
  return bot.api.heal({ service: 'api', source: 'chat', requestedBy: ana });
}

describe('heal with approval', () => {
  it('diagnoses, asks, restarts through the real command runtime, verifies and reports', async () => {
    const { bot, store, events } = start();
    const report = await bot.api.heal({ service: 'api', source: 'chat', requestedBy: ana });

    expect(report.rootCause).toMatchObject({ kind: 'service_unhealthy', service: 'api', layer: 'internal' });
    expect(report.plan).toEqual([expect.objectContaining({ action: 'restart', target: 'api', risk: 'risky' })]);
    expect(report.outcome).toBe('healed');
    expect(report.approvedBy).toEqual(['@ana']);
    expect(report.actions).toEqual([
      expect.objectContaining({ action: 'restart', target: 'api', ok: true, approvedBy: ['@ana'] }),
    ]);
    expect(report.actions[0].before?.status).toBe('running');
    expect(report.retried).toMatchObject({ name: 'internal', ok: true, status: 200 });
    expect(report.hops).toEqual([expect.objectContaining({ name: 'internal', ok: false, status: 500 })]);
    expect(report.summary).toMatch(/restarted api after approval by @ana; healthy again in \d+\.\d s/);
    expect(target.controlCalls).toEqual(['ok']);
    expect(target.mode).toBe('ok');

    const record = await store.getIncident(report.incidentId);
    expect(record).toMatchObject({ status: 'closed', outcome: 'healed' });
    const audit = (await store.listAudit({ service: 'api' })).map((e) => e.event);
    expect(audit).toEqual(
      expect.arrayContaining(['requested', 'planned', 'approval_requested', 'approved', 'action', 'outcome']),
    );
    expect(audit.indexOf('approved')).toBeLessThan(audit.indexOf('action'));
    void events;
  });

  it('emits progress events in order, started … done, all for the one incident', async () => {
    const { bot, events } = start();
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    const types = events.map((e) => e.type);
    const order: ProgressEvent['type'][] = [
      'started',
      'finding',
      'plan',
      'awaiting_approval',
      'approval',
      'action_started',
      'action_finished',
      'verified',
      'done',
    ];
    const positions = order.map((type) => types.indexOf(type));
    expect(
      positions.every((p) => p >= 0),
      `saw ${types.join(', ')}`,
    ).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(types[0]).toBe('started');
    expect(types.at(-1)).toBe('done');
    expect(types.indexOf('probe')).toBeLessThan(types.indexOf('finding'));
    const ids = new Set(events.map((e) => (e.type === 'started' ? e.incident.id : e.incidentId)));
    expect([...ids]).toEqual([report.incidentId]);
  });

  it('denied: nothing runs and the report names who denied', async () => {
    const { bot, store } = start({ deny: bo });
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.outcome).toBe('denied');
    expect(report.deniedBy).toBe('@bo');
    expect(report.actions).toEqual([]);
    expect(report.summary).toContain('denied by @bo; nothing was changed');
    expect(target.controlCalls).toEqual([]);
    expect((await store.listAudit({ service: 'api' })).map((e) => e.event)).toContain('denied');
  });

  it('an unauthorised actor is refused, the approval stays pending, and an approver can still decide', async () => {
    const { bot, store, events } = start({ approve: false });
    const healing = bot.api.heal({ service: 'api', source: 'chat' });
    const asked = (await waitForEvent(events, 'awaiting_approval')) as Extract<
      ProgressEvent,
      { type: 'awaiting_approval' }
    >;
    const refused = await bot.api.decide(asked.request.id, eve, 'approve');
    expect(refused).toMatchObject({ ok: false, reason: 'not_allowed' });
    expect((await store.getApproval(asked.request.id))?.status).toBe('pending');
    expect((await store.listAudit({ service: 'api' })).find((e) => e.event === 'refused_not_allowed')?.actor).toBe(
      '@eve',
    );
    expect(target.controlCalls).toEqual([]);

    const [a, b] = await Promise.all([
      bot.api.decide(asked.request.id, ana, 'approve'),
      bot.api.decide(asked.request.id, bo, 'deny'),
    ]);
    expect([a.ok, b.ok]).toEqual([true, false]);
    expect(b).toMatchObject({ reason: 'already_decided' });
    expect((await healing).outcome).toBe('healed');
    expect(target.controlCalls).toEqual(['ok']);
  });

  it('two approvers: the same person twice does not run the action', async () => {
    const { bot, events } = start({ approve: false, policy: { twoApprovers: true } });
    const healing = bot.api.heal({ service: 'api', source: 'chat' });
    const asked = (await waitForEvent(events, 'awaiting_approval')) as Extract<
      ProgressEvent,
      { type: 'awaiting_approval' }
    >;
    expect(asked.request.requiredApprovals).toBe(2);
    expect(await bot.api.decide(asked.request.id, ana, 'approve')).toMatchObject({ ok: true, waitingFor: 1 });
    expect(await bot.api.decide(asked.request.id, ana, 'approve')).toMatchObject({
      ok: false,
      reason: 'same_approver',
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(target.controlCalls).toEqual([]);
    await bot.api.decide(asked.request.id, bo, 'approve');
    const report = await healing;
    expect(report.outcome).toBe('healed');
    expect(report.approvedBy).toEqual(['@ana', '@bo']);
  });

  it('an approval decided after healbot restarted resumes the heal on the same incident', async () => {
    const file = join(dir, 'restart.db');
    const first = start({ approve: false, storeFile: file });
    void first.bot.api.heal({ service: 'api', source: 'chat' });
    const asked = (await waitForEvent(first.events, 'awaiting_approval')) as Extract<
      ProgressEvent,
      { type: 'awaiting_approval' }
    >;
    await first.bot.close();
    bots.splice(bots.indexOf(first.bot), 1);
    await first.store.close();
    stores.splice(stores.indexOf(first.store), 1);

    const second = start({ approve: false, storeFile: file });
    expect((await second.store.getIncident(asked.incidentId))?.status).toBe('open');
    const decided = await second.bot.api.decide(asked.request.id, ana, 'approve');
    expect(decided).toMatchObject({ ok: true, decision: 'approved' });
    const done = (await waitForEvent(second.events, 'done')) as Extract<ProgressEvent, { type: 'done' }>;
    expect(done.report.incidentId).toBe(asked.incidentId);
    expect(done.report.outcome).toBe('healed');
    expect(done.report.approvedBy).toEqual(['@ana']);
    expect(second.events.some((e) => e.type === 'awaiting_approval')).toBe(false);
    expect(target.controlCalls).toEqual(['ok']);
    expect((await second.store.listAudit({ service: 'api' })).map((e) => e.event)).toContain('resumed_after_restart');
  });
});

describe('gates', () => {
  it('healing disabled: diagnoses and plans, runs nothing', async () => {
    const { bot, events } = start({ healingEnabled: false, policy: { auto: ['restart'] } });
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.outcome).toBe('escalated');
    expect(report.plan).toEqual([expect.objectContaining({ action: 'restart' })]);
    expect(report.actions).toEqual([]);
    expect(report.escalation).toContain('healing is disabled');
    expect(events.find((e) => e.type === 'plan')).toMatchObject({
      blockedBy: expect.stringContaining('healing is disabled'),
    });
    expect(events.some((e) => e.type === 'action_started' || e.type === 'awaiting_approval')).toBe(false);
    expect(target.controlCalls).toEqual([]);
  });

  it('dry run: diagnoses and plans, runs nothing', async () => {
    const { bot } = start({ policy: { auto: ['restart'] } });
    const report = await bot.api.heal({ service: 'api', source: 'cli', dryRun: true });
    expect(report.outcome).toBe('escalated');
    expect(report.escalation).toContain('dry run');
    expect(report.actions).toEqual([]);
    expect(target.controlCalls).toEqual([]);
  });

  it('a paused service is not acted on until resumed; pausing needs an approver', async () => {
    const { bot } = start({ policy: { auto: ['restart'] } });
    await expect(bot.api.pause('api', eve)).rejects.toBeInstanceOf(PermissionDenied);
    await bot.api.pause('api', ana);
    expect((await bot.api.heal({ service: 'api', source: 'chat' })).escalation).toContain('paused');
    expect(target.controlCalls).toEqual([]);
    await bot.api.resume('api', ana);
    expect((await bot.api.heal({ service: 'api', source: 'chat' })).outcome).toBe('healed');
  });

  it('scenario 13: the breaker opens after 3 heals in the window, the 4th escalates to on-call until resume', async () => {
    const { bot, store } = start({ policy: { auto: ['restart'] }, breaker: { threshold: 3, window: '1h' } });
    for (let i = 1; i <= 3; i++) {
      const report = await breakAndHeal(bot);
      expect(report.outcome, `heal ${i}`).toBe('healed');
    }
    expect(target.controlCalls).toEqual(['ok', 'ok', 'ok']);
    expect(await store.isBreakerOpen('api')).toBe(true);

    const fourth = await breakAndHeal(bot);
    expect(fourth.outcome).toBe('escalated');
    expect(fourth.actions).toEqual([]);
    expect(fourth.escalation).toContain('breaker');
    expect(fourth.escalation).toContain('<@U0ONCALL>');
    expect(fourth.escalation).toContain('/heal resume api');
    expect(target.controlCalls).toHaveLength(3);
    expect((await bot.api.status())[0]).toMatchObject({ service: 'api', breakerOpen: true, healthy: false });

    await bot.api.resume('api', operator);
    expect(await store.isBreakerOpen('api')).toBe(false);
    expect((await bot.api.heal({ service: 'api', source: 'chat' })).outcome).toBe('healed');
    expect(target.controlCalls).toHaveLength(4);
    // A reset starts the count over: one heal after it does not reopen the breaker.
    expect(await store.isBreakerOpen('api')).toBe(false);
    expect((await breakAndHeal(bot)).outcome).toBe('healed');
    expect(target.controlCalls).toHaveLength(5);
  });

  it('cooldown: a second heal soon after the first is refused with the time left', async () => {
    const { bot } = start({ policy: { auto: ['restart'], cooldown: '1h' } });
    expect((await breakAndHeal(bot)).outcome).toBe('healed');
    const second = await breakAndHeal(bot);
    expect(second.outcome).toBe('escalated');
    expect(second.escalation).toMatch(/was healed \d+ s ago; the cooldown is 3600 s/);
    expect(target.controlCalls).toEqual(['ok']);
  });
});

describe('one incident per problem', () => {
  it('the same dedupeKey twice opens one incident and runs the action once', async () => {
    const { bot, store } = start({ policy: { auto: ['restart'] } });
    const first = await bot.api.heal({ service: 'api', source: 'alert', dedupeKey: 'am:fingerprint-1' });
    target.mode = 'error';
    const second = await bot.api.heal({ service: 'api', source: 'alert', dedupeKey: 'am:fingerprint-1' });
    expect(first.outcome).toBe('healed');
    expect(second.duplicate).toBe(true);
    expect(second.incidentId).toBe(first.incidentId);
    expect(second.outcome).toBe('healed');
    expect(target.controlCalls).toEqual(['ok']);
    expect(await store.listIncidents({ service: 'api' })).toHaveLength(1);
  });

  it('the same dedupeKey delivered twice at once joins the running incident', async () => {
    const { bot, store } = start({ policy: { auto: ['restart'] } });
    const [a, b] = await Promise.all([
      bot.api.heal({ service: 'api', source: 'alert', dedupeKey: 'am:fp-2' }),
      bot.api.heal({ service: 'api', source: 'alert', dedupeKey: 'am:fp-2' }),
    ]);
    expect(a.incidentId).toBe(b.incidentId);
    expect(target.controlCalls).toEqual(['ok']);
    expect(await store.listIncidents({ service: 'api' })).toHaveLength(1);
  });

  it('two concurrent heals of one service join one incident and restart once', async () => {
    const { bot, store } = start({ policy: { auto: ['restart'] } });
    const [a, b] = await Promise.all([
      bot.api.heal({ service: 'api', source: 'chat' }),
      bot.api.heal({ service: 'api', source: 'alert' }),
    ]);
    expect(a.incidentId).toBe(b.incidentId);
    expect(a.outcome).toBe('healed');
    expect(target.controlCalls).toEqual(['ok']);
    const incidents = await store.listIncidents({ service: 'api' });
    expect(incidents).toHaveLength(1);
    expect(incidents[0].alertCount).toBe(2);
  });

  it('an unknown service is refused with suggestions', async () => {
    const { bot } = start();
    await expect(bot.api.heal({ service: 'apx', source: 'chat' })).rejects.toBeInstanceOf(UnknownServiceError);
    await expect(bot.api.heal({ service: 'apx', source: 'chat' })).rejects.toThrow(/Did you mean api\?/);
  });
});

describe('when the fix does not work', () => {
  it('verification failure is failed, escalating to on-call', async () => {
    const { bot } = start({ restart: 'does-nothing', policy: { auto: ['restart'] } });
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.outcome).toBe('failed');
    expect(report.actions).toEqual([expect.objectContaining({ action: 'restart', ok: true })]);
    expect(report.escalation).toContain('still unhealthy after the fix: api/internal');
    expect(report.escalation).toContain('<@U0ONCALL>');
    expect(report.summary).toContain('but it is still not healthy');
  });

  it('a restart that exits non-zero is failed, with its output redacted', async () => {
    const { bot, store } = start({ restart: 'fails', policy: { auto: ['restart'] } });
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.outcome).toBe('failed');
    expect(report.actions[0]).toMatchObject({ ok: false });
    expect(report.actions[0].error).toContain('exited 5');
    expect(report.actions[0].error).toContain('unit api.service not found');
    expect(report.actions[0].error).not.toContain('hunter2');
    expect(report.escalation).toContain('<@U0ONCALL>');
    expect(JSON.stringify(await store.listAudit())).not.toContain('hunter2');
  });

  it('a healthy service is not touched', async () => {
    target.mode = 'ok';
    const { bot } = start({ policy: { auto: ['restart'] } });
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.outcome).toBe('not_needed');
    expect(report.summary).toBe('api is healthy; nothing was restarted');
    expect(target.controlCalls).toEqual([]);
  });
});

describe('diagnosis', () => {
  it('probes run concurrently: three hanging probes take about one timeout, not three', async () => {
    target.mode = 'hang';
    const config = parseConfig({
      services: {
        api: {
          probes: [
            { name: 'one', http: target.readyUrl, timeoutMs: '1s' },
            { name: 'two', http: `${target.url}/ready?2`, timeoutMs: '1s' },
          ],
          dependsOn: ['db'],
        },
        db: { probes: [{ name: 'three', http: `${target.url}/ready?3`, timeoutMs: '1s' }] },
      },
    });
    const bot = createHealbot(config, { storePath: ':memory:' });
    bots.push(bot);
    const diagnosis = await diagnose(bot.sensors, 'api');
    const probes = diagnosis.probes.filter((p) => ['one', 'two', 'three'].includes(p.name));
    expect(probes).toHaveLength(3);
    expect(probes.every((p) => !p.ok && p.errorKind === 'timeout')).toBe(true);
    const sum = probes.reduce((total, p) => total + p.ms, 0);
    expect(diagnosis.ms / sum).toBeLessThan(0.7);
  });

  it('a probe that ignores its abort signal is cut off all the same', async () => {
    const stubborn: Probe = { name: 'stubborn', kind: 'command', timeoutMs: 100, check: () => new Promise(() => {}) };
    const result = await runProbe('api', stubborn);
    expect(result).toMatchObject({ service: 'api', name: 'stubborn', ok: false, errorKind: 'timeout' });
  });

  it('a probe that throws is a failed result, not a crash', async () => {
    const broken: Probe = {
      name: 'broken',
      kind: 'command',
      timeoutMs: 1000,
      check: async () => {
        throw new Error('boom');
      },
    };
    expect(await runProbe('api', broken)).toMatchObject({ ok: false, error: 'boom', errorKind: 'other' });
  });

  it('diagnose through the engine changes nothing', async () => {
    const { bot, store } = start({ policy: { auto: ['restart'] } });
    const diagnosis = await bot.api.diagnose('api');
    expect(diagnosis.rootCause.kind).toBe('service_unhealthy');
    expect(diagnosis.path).toEqual([expect.objectContaining({ name: 'internal', ok: false, status: 500 })]);
    expect(target.controlCalls).toEqual([]);
    expect(await store.listIncidents()).toEqual([]);
  });
});

describe('decisions after a restart close the incident', () => {
  async function restartWhileWaiting(approvalTimeout?: string) {
    const file = join(dir, 'orphan.db');
    const first = start({ approve: false, storeFile: file });
    void first.bot.api.heal({ service: 'api', source: 'chat' });
    const asked = (await waitForEvent(first.events, 'awaiting_approval')) as Extract<
      ProgressEvent,
      { type: 'awaiting_approval' }
    >;
    await first.bot.close();
    bots.splice(bots.indexOf(first.bot), 1);
    await first.store.close();
    stores.splice(stores.indexOf(first.store), 1);
    if (approvalTimeout) {
      // Rewrite the stored deadline so it passes while the new process waits.
      const raw = new SqliteStore(file);
      const record = (await raw.getApproval(asked.request.id))!;
      await raw.saveApproval({ ...record, expiresAt: new Date(Date.now() + Number(approvalTimeout)).toISOString() });
      await raw.close();
    }
    const second = start({ approve: false, storeFile: file });
    // The new process owns the store: it re-arms the pending approval.
    await second.bot.takeOwnership();
    return { asked, second };
  }

  it('a denial after a restart closes the incident as denied and runs nothing', async () => {
    const { asked, second } = await restartWhileWaiting();
    expect(await second.bot.api.decide(asked.request.id, bo, 'deny')).toMatchObject({ ok: true, decision: 'denied' });
    expect(await second.store.getIncident(asked.incidentId)).toMatchObject({ status: 'closed', outcome: 'denied' });
    expect(target.controlCalls).toEqual([]);
  });

  it('an approval that expires after a restart escalates the incident, which stays open', async () => {
    const { asked, second } = await restartWhileWaiting('100');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await second.store.getApproval(asked.request.id))?.status).toBe('expired');
    expect(await second.store.getIncident(asked.incidentId)).toMatchObject({ status: 'open', outcome: 'escalated' });
    expect(target.controlCalls).toEqual([]);
  });
});

describe('gates apply to the service acted on', () => {
  let db: HttpTarget;
  beforeEach(async () => {
    db = await new HttpTarget('error').start();
  });
  afterEach(async () => {
    await db.stop();
  });

  function startWithDb() {
    const config = parseConfig({
      healing: { verifyTimeout: '1s', approvers: ['U_ANA'] },
      oncall: ['<@U0ONCALL>'],
      services: {
        api: {
          probes: [{ name: 'internal', http: target.readyUrl, timeoutMs: '1s' }],
          dependsOn: ['db'],
          command: { restart: fetchArgv(target.controlUrl('ok')), status: [node, '-e', 'process.exit(0)'] },
          policy: { auto: ['restart', 'start'] },
        },
        db: {
          probes: [{ name: 'internal', http: db.readyUrl, timeoutMs: '1s' }],
          command: { restart: fetchArgv(db.controlUrl('ok')), status: [node, '-e', 'process.exit(1)'] },
          policy: { auto: ['restart', 'start'] },
        },
      },
    });
    const store = new SqliteStore(join(dir, 'deps.db'));
    stores.push(store);
    const bot = createHealbot(config, { store });
    bots.push(bot);
    return { bot, store };
  }

  it('scenario 12 through the engine: healing api starts db, not api', async () => {
    const { bot } = startWithDb();
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.rootCause).toMatchObject({ kind: 'dependency_down', layer: 'db' });
    expect(report.actions).toEqual([expect.objectContaining({ action: 'start', target: 'db' })]);
    expect(db.controlCalls).toEqual(['ok']);
    expect(target.controlCalls).toEqual([]);
  });

  it('an open breaker on the dependency stops a heal of the dependent from acting on it', async () => {
    const { bot, store } = startWithDb();
    await store.setBreakerOpen('db', true);
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.outcome).toBe('escalated');
    expect(report.escalation).toContain('breaker for db');
    expect(db.controlCalls).toEqual([]);
  });

  it('a paused dependency is not acted on through its dependent', async () => {
    const { bot, store } = startWithDb();
    await store.setPaused('db', true);
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.outcome).toBe('escalated');
    expect(report.escalation).toContain('healing of db is paused');
    expect(db.controlCalls).toEqual([]);
  });
});

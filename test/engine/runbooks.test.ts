import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHealbot, type Healbot } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { Actor } from '../../src/engine/api.js';
import type { ProgressEvent } from '../../src/engine/types.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { waitFor } from '../support/wait.js';
import { HttpTarget } from '../support/http-target.js';

/**
 * Runbooks whose approval outlives healbot: a real backend on loopback, a runbook step that is a
 * real process flipping it back to healthy, and the SQLite store on disk across a restart.
 */
const node = process.execPath;
const ana: Actor = { platform: 'slack', id: 'U_ANA', display: '@ana' };
let dir: string;
let target: HttpTarget;
const open: { bot: Healbot; store: SqliteStore }[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'healbot-runbooks-'));
  target = await new HttpTarget('error').start();
});

afterEach(async () => {
  for (const { bot, store } of open.splice(0)) {
    await bot.close();
    await store.close();
  }
  await target.stop();
  rmSync(dir, { recursive: true, force: true });
});

function start(file: string) {
  const fix = [
    node,
    '-e',
    `fetch(${JSON.stringify(target.controlUrl('ok'))}).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(2))`,
  ];
  const config = parseConfig({
    healing: { verifyTimeout: '3s', approvers: ['U_ANA'] },
    services: {
      api: {
        command: { restart: [node, '-e', 'process.exit(0)'] },
        probes: [{ name: 'internal', http: target.readyUrl, timeoutMs: '1s' }],
      },
    },
    runbooks: [{ name: 'team-web', when: { labels: { team: 'web' } }, steps: [{ name: 'flip', command: fix }] }],
  });
  const store = new SqliteStore(file);
  const bot = createHealbot(config, { store });
  open.push({ bot, store });
  const events: ProgressEvent[] = [];
  bot.api.subscribe((event) => events.push(event));
  return { bot, store, events };
}

describe('a runbook approved after healbot restarted', () => {
  it('runs the runbook as planned on the same incident, matched on the labels it was opened with', async () => {
    const file = join(dir, 'healbot.db');
    const first = start(file);
    void first.bot.api.heal({ service: 'api', source: 'webhook', labels: { team: 'web' } });
    const asked = await waitFor(
      () =>
        first.events.find(
          (e): e is Extract<ProgressEvent, { type: 'awaiting_approval' }> => e.type === 'awaiting_approval',
        ),
      'approval request',
    );
    expect(asked.request.step).toMatchObject({ action: 'runbook', params: { runbook: 'team-web' } });
    await first.bot.close();
    await first.store.close();
    open.splice(0);

    const second = start(file);
    expect(await second.bot.api.decide(asked.request.id, ana, 'approve')).toMatchObject({ ok: true });
    const done = await waitFor(
      () => second.events.find((e): e is Extract<ProgressEvent, { type: 'done' }> => e.type === 'done'),
      'done event',
    );
    expect(done.report).toMatchObject({
      incidentId: asked.incidentId,
      outcome: 'healed',
      approvedBy: ['@ana'],
      runbook: { name: 'team-web', completed: ['flip'], verified: true },
    });
    expect(second.events.some((e) => e.type === 'awaiting_approval')).toBe(false);
    expect(target.controlCalls).toEqual(['ok']);
  });

  it('without the label the default restart runs, and counts as failed when the service stays unhealthy', async () => {
    const { bot, store } = start(join(dir, 'rates.db'));
    bot.api.subscribe((event) => {
      if (event.type === 'awaiting_approval') void bot.api.decide(event.request.id, ana, 'approve');
    });
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.runbook).toBeUndefined();
    expect(report.actions).toEqual([expect.objectContaining({ action: 'restart', ok: true })]);
    expect(report.outcome).toBe('failed');
    expect(await store.remediationStats()).toEqual([
      {
        service: 'api',
        remediation: 'action:restart',
        runs: 1,
        succeeded: 0,
        lastOk: false,
        lastAt: expect.any(Number),
      },
    ]);
    expect(target.controlCalls).toEqual([]);
  });
});

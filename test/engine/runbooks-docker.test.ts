import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHealbot, loadRuntimes } from '../../src/app.js';
import type { Actor } from '../../src/engine/api.js';
import { runCommand } from '../../commands/index.js';
import { parseConfig } from '../../src/config/load.js';
import { HealbotMetrics } from '../../src/server/metrics.js';
import type { ProgressEvent } from '../../src/engine/types.js';
import { dockerEngineUnavailableReason, requireOrSkip, startDockerEngine } from '../support/docker-engine.js';
import { useDockerWorkspace } from '../support/docker-workspace.js';
import { commands, runContainer, uniqueName, waitForContainer } from '../support/images.js';

/**
 * Runbooks against a real dockerd: real containers, real argv commands (node writing to a
 * journal file), the real store. Each test has its own container and healbot.
 */
const engine = await startDockerEngine();
const skip = !engine && requireOrSkip(dockerEngineUnavailableReason());
const node = process.execPath;
const ana: Actor = { platform: 'slack', id: 'U_ANA', display: '@ana' };

/** argv that appends its last argument as a line to `file`, then exits with `code` after printing `say`. */
const note = (file: string, line: string, code = 0, say = '') => [
  node,
  '-e',
  'require("fs").appendFileSync(process.argv[1], process.argv[2] + "\\n"); if (process.argv[4]) console.error(process.argv[4]); process.exit(Number(process.argv[3]))',
  file,
  line,
  String(code),
  ...(say ? [say] : []),
];

describe.skipIf(skip)('runbooks on a real Docker engine', () => {
  const workspace = useDockerWorkspace(engine, 'runbooks');

  /** An exited container that said `line`, a healbot with `runbooks` for it, and every progress event. */
  async function setup(
    label: string,
    runbooks: unknown[],
    options: { line?: string; approve?: boolean; extra?: Record<string, unknown>; stopped?: boolean } = {},
  ) {
    const { docker, host, bots } = workspace;
    const container = uniqueName(`runbook-${label}`);
    const line = options.line ?? 'write /data/x: No space left on device';
    if (options.stopped) await runContainer(docker, { name: container, cmd: commands.hang([line]), start: false });
    else {
      await runContainer(docker, { name: container, cmd: commands.exitWith(1, [line]) });
      await waitForContainer(docker, container, (info) => info.State.Status === 'exited');
    }
    const config = parseConfig({
      services: { api: { docker: { container, host } } },
      healing: { approvers: ['U_ANA'], verifyTimeout: '3s' },
      runbooks,
      ...options.extra,
    });
    await loadRuntimes(config);
    const bot = createHealbot(config, { storePath: ':memory:' });
    bots.push(bot);
    const events: ProgressEvent[] = [];
    bot.api.subscribe((event) => {
      events.push(event);
      if (event.type === 'awaiting_approval' && options.approve !== false)
        setTimeout(() => void bot.api.decide(event.request.id, ana, 'approve'), 5);
    });
    const journal = join(workspace.dir, `${label}.log`);
    const lines = () => (existsSync(journal) ? readFileSync(journal, 'utf8').trim().split('\n') : []);
    return { bot, events, container, journal, lines };
  }

  it('three command steps, the second failing: the first is rolled back, verification is not claimed, the thread says so', async () => {
    const journal = join(workspace.dir, 'three.log');
    const { bot, events, lines } = await setup('three', [
      {
        name: 'free-disk',
        when: { kinds: ['service_down'], patterns: ['disk_full'] },
        steps: [
          { name: 'one', command: note(journal, 'one {container}') },
          { name: 'two', command: note(journal, 'two', 3, 'vacuum failed: password=hunter2') },
          { name: 'three', command: note(journal, 'three') },
        ],
        rollback: [
          { name: 'undo-one', undoes: 'one', command: note(journal, 'undo one') },
          { name: 'undo-three', undoes: 'three', command: note(journal, 'undo three') },
        ],
      },
    ]);
    const report = await bot.api.heal({ service: 'api', source: 'chat', requestedBy: ana });
    const container = bot.config.services.api.docker!.container;

    expect(lines()).toEqual([`one ${container}`, 'two', 'undo one']);
    expect(report.outcome).toBe('failed');
    expect(report.runbook).toMatchObject({
      name: 'free-disk',
      completed: ['one'],
      failedStep: { name: 'two' },
      undone: ['one (by undo-one)'],
      rollbackFailed: [],
    });
    expect(report.runbook?.verified).toBeUndefined();
    expect(events.some((e) => e.type === 'verified')).toBe(false);
    expect(report.summary).toContain('step two failed (two exited 3');
    expect(report.summary).toContain('verification was not run; rolled back one (by undo-one)');
    expect(report.summary).not.toMatch(/healthy again|verified/);
    const info = events
      .filter((e): e is Extract<ProgressEvent, { type: 'info' }> => e.type === 'info')
      .map((e) => e.message);
    expect(info.some((m) => m.includes('rolled back one (by undo-one)'))).toBe(true);

    // The plan showed every step, and one approval covered the runbook.
    expect(report.plan.map((s) => s.action)).toEqual(['command', 'command', 'command', 'command', 'command']);
    expect(report.plan[0].reason).toContain(`one ${container}`);
    const asked = events.filter((e) => e.type === 'awaiting_approval');
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({
      request: { step: { action: 'runbook', target: 'api', params: { runbook: 'free-disk' } } },
    });

    // Each step is audited with its output, redacted.
    const steps = (await bot.store.listAudit({ service: 'api' })).filter((e) => e.event === 'runbook_step');
    expect(steps.map((e) => [e.detail.phase, e.detail.step, e.detail.ok])).toEqual([
      ['step', 'one', true],
      ['step', 'two', false],
      ['rollback', 'undo-one', true],
    ]);
    expect(JSON.stringify(steps)).not.toContain('hunter2');
    expect(JSON.stringify(events.filter((e) => e.type === 'plan' || e.type === 'awaiting_approval'))).not.toContain(
      'hunter2',
    );
    expect(steps[1].detail.output).toContain('vacuum failed: password=[REDACTED]');
  });

  it('a verification failure rolls the steps back', async () => {
    const journal = join(workspace.dir, 'verify.log');
    const { bot, container, lines } = await setup('verify', [
      {
        name: 'start-it',
        when: { services: ['api'] },
        steps: [{ name: 'start', action: 'start' }],
        verify: [{ name: 'smoke', command: note(journal, 'smoke', 1) }],
        rollback: [{ name: 'stop-again', undoes: 'start', command: note(journal, 'undo start') }],
      },
    ]);
    const before = (await workspace.docker.getContainer(container).inspect()).State.StartedAt;
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect((await workspace.docker.getContainer(container).inspect()).State.StartedAt).not.toBe(before);
    expect(lines()).toEqual(['smoke', 'undo start']);
    expect(report.outcome).toBe('failed');
    expect(report.runbook).toMatchObject({ completed: ['start'], verified: false, undone: ['start (by stop-again)'] });
    expect(report.summary).toContain('verification failed (smoke exited 1)');
    expect(report.summary).toContain('rolled back start (by stop-again)');
  });

  it('placeholders never expand alert text: a label carrying $(touch …) changes nothing', async () => {
    const journal = join(workspace.dir, 'labels.log');
    const marker = join(workspace.dir, 'pwned');
    const { bot, container, lines } = await setup('labels', [
      {
        name: 'web-only',
        when: { labels: { team: 'web' } },
        steps: [{ name: 'record', risk: 'safe', command: note(journal, '{service} {container}') }],
        verify: [{ name: 'ok', risk: 'safe', command: note(journal, 'verified') }],
        rollback: [{ name: 'undo', risk: 'safe', undoes: 'record', command: note(journal, 'undone') }],
      },
    ]);
    const evil = `$(touch ${marker})`;
    const report = await bot.api.heal({
      service: 'api',
      source: 'alert',
      summary: evil,
      labels: { team: 'web', service: 'api', note: evil, container: evil },
    });
    expect(existsSync(marker)).toBe(false);
    expect(lines()[0]).toBe(`api ${container}`);
    expect(JSON.stringify(report.plan)).not.toContain('touch');
    expect(report.runbook?.name).toBe('web-only');

    // Without the label the runbook does not match and the default plan stays.
    const plain = await bot.api.heal({ service: 'api', source: 'alert', labels: { team: 'db' }, dryRun: true });
    expect(plain.runbook).toBeUndefined();
    expect(plain.plan).toEqual([expect.objectContaining({ action: 'manual' })]);
  });

  it('a migrate-then-start runbook heals, is verified and counted', async () => {
    const journal = join(workspace.dir, 'migrate.log');
    const { bot, container, lines } = await setup(
      'migrate',
      [
        {
          name: 'migrate-then-start',
          when: { kinds: ['service_down'] },
          steps: [
            { name: 'migrate', command: note(journal, 'migrate {container}') },
            { name: 'start', action: 'start' },
          ],
          verify: [{ name: 'schema-check', command: note(journal, 'schema ok') }],
        },
      ],
      { stopped: true },
    );
    const metrics = new HealbotMetrics({
      services: () => ['api'],
      breakerOpen: async () => false,
      processMetrics: false,
    });
    bot.api.subscribe((event) => metrics.observe(event));
    const report = await bot.api.heal({ service: 'api', source: 'chat', requestedBy: ana });
    expect(report.outcome).toBe('healed');
    expect(lines()).toEqual([`migrate ${container}`, 'schema ok']);
    expect((await workspace.docker.getContainer(container).inspect()).State.Running).toBe(true);
    expect(report.runbook).toMatchObject({ completed: ['migrate', 'start'], verified: true, undone: [] });
    expect(report.summary).toMatch(
      /runbook migrate-then-start ran migrate, start; verified after approval by @ana; healthy again in \d+\.\d s/,
    );
    expect(await bot.store.remediationStats('api')).toEqual([
      expect.objectContaining({ remediation: 'runbook:migrate-then-start', runs: 1, succeeded: 1, lastOk: true }),
    ]);
    expect(await metrics.text()).toContain(
      'healbot_remediation_runs_total{service="api",remediation="runbook:migrate-then-start",result="ok"} 1',
    );
    const history = await runCommand(bot.api, { actor: ana, text: 'history api' });
    expect(history.message.text).toContain('runbook migrate-then-start on *api*: 1 of 1 worked (last run worked)');
  });

  it('a runbook that failed its last N runs is offered only as manual, with its record', async () => {
    const journal = join(workspace.dir, 'rates.log');
    const { bot, lines } = await setup(
      'rates',
      [
        {
          name: 'flaky',
          when: { kinds: ['service_down'] },
          manualAfterFailures: 2,
          steps: [{ name: 'try', risk: 'safe', command: note(journal, 'try', 1) }],
        },
      ],
      { extra: { breaker: { threshold: 10 } } },
    );
    expect((await bot.api.heal({ service: 'api', source: 'chat' })).outcome).toBe('failed');
    expect((await bot.api.heal({ service: 'api', source: 'chat' })).outcome).toBe('failed');
    const third = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(lines()).toEqual(['try', 'try']);
    expect(third.outcome).toBe('escalated');
    expect(third.plan).toEqual([expect.objectContaining({ action: 'manual', risk: 'manual' })]);
    expect(third.plan[0].reason).toContain('runbook flaky failed 2 of its last 2 runs on api');
    expect(await bot.store.remediationStats('api')).toEqual([
      expect.objectContaining({ remediation: 'runbook:flaky', runs: 2, succeeded: 0, lastOk: false }),
    ]);
  });
});

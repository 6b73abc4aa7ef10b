import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { countedService, startTestBot, tempDir, waitFor, type TestBot } from './harness.js';

/**
 * Only the store's owner recovers: `healbot diagnose` and `healbot heal` run against the store of
 * a live `healbot serve` while serve is in the middle of an action, and leave its incident alone.
 */
describe('the store has one owner', () => {
  const dir = tempDir();
  const started = join(dir.path, 'slow-started');
  const release = join(dir.path, 'slow-release');
  let bot: TestBot | undefined;

  afterAll(async () => {
    writeFileSync(release, '');
    await bot?.close();
    dir.cleanup();
  });

  it("diagnose and heal next to a running serve neither close serve's in-flight incident nor write to the store", async () => {
    const node = process.execPath;
    const other = countedService(dir.path, 'other', { auto: ['start', 'restart'] });
    const config = {
      store: { path: join(dir.path, 'healbot.db') },
      healing: { verifyTimeout: '1s' },
      services: {
        slow: {
          command: {
            restart: [
              node,
              '-e',
              `require('fs').writeFileSync(${JSON.stringify(started)}, ''); (function wait() { if (!require('fs').existsSync(${JSON.stringify(release)})) setTimeout(wait, 20); })()`,
            ],
            status: [node, '-e', 'process.exit(3)'],
          },
          policy: { auto: ['start', 'restart'] },
        },
        other: other.config,
      },
    };
    bot = await startTestBot(config);
    const { incidentId } = (await (
      await bot.call('/api/heal', { method: 'POST', json: { service: 'slow' } })
    ).json()) as { incidentId: string };
    await waitFor(() => existsSync(started), 'serve to be in the middle of its action');
    const file = join(dir.path, 'healbot.yml');
    writeFileSync(file, stringify(config));
    const auditBefore = (await bot.bot.store.listAudit()).length;

    const diagnosis = await runCli(['diagnose', 'slow', '--config', file, '--json']);
    expect(diagnosis.exitCode, diagnosis.stderr).toBe(0);
    expect((await bot.bot.store.listAudit()).length).toBe(auditBefore);
    expect((await bot.bot.store.getIncident(incidentId))?.status).toBe('open');

    const heal = await runCli(['heal', 'other', '--config', file, '--yes', '--json']);
    expect(heal.exitCode, heal.stderr).toBe(0);
    expect((await bot.bot.store.getIncident(incidentId))?.status).toBe('open');
    expect((await bot.bot.store.listAudit()).some((e) => e.event === 'interrupted')).toBe(false);
    expect(readFileSync(`${join(dir.path, 'healbot.db')}.owner`, 'utf8')).toBe(String(process.pid));

    writeFileSync(release, '');
    const closed = await waitFor(
      async () =>
        (await bot!.bot.store.getIncident(incidentId))?.status === 'closed' &&
        (await bot!.bot.store.getIncident(incidentId)),
      'serve to finish its own incident',
    );
    expect(closed.summary).not.toMatch(/restarted while this incident was running/);
  });
});

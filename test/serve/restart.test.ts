import { existsSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../support/cli.js';
import { json } from '../support/http.js';
import { API_TOKEN, countedService, tempDir, TOKEN, waitFor } from './harness.js';
import { freePort } from '../../src/free-port.js';

/**
 * The durability promise, with the real CLI: SIGKILL `healbot serve` while an approval is
 * pending, start it again on the same store, approve, and the action runs exactly once.
 */
describe('healbot serve survives SIGKILL', () => {
  const dir = tempDir();
  const children: ResultPromise[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    dir.cleanup();
  });

  it('keeps a pending approval across a kill, joins the startup monitoring round to it, and runs the approved action exactly once', async () => {
    expect(existsSync(CLI), `${CLI} is missing: run npm run build first`).toBe(true);
    const port = await freePort();
    const api = countedService(dir.path, 'api');
    const configFile = `${dir.path}/healbot.yml`;
    writeFileSync(
      configFile,
      stringify({
        server: {
          listen: `127.0.0.1:${port}`,
          token: '${HEALBOT_TOKEN}',
          apiTokens: [{ name: 'ops', token: API_TOKEN }],
        },
        store: { path: `${dir.path}/healbot.db` },
        monitor: { interval: '1h' },
        healing: { approvalTimeout: '10m', verifyTimeout: '5s', approvers: ['api:ops'] },
        services: { api: api.config },
      }),
    );
    const base = `http://127.0.0.1:${port}`;
    const call = (path: string, init: RequestInit & { json?: unknown } = {}) =>
      fetch(base + path, {
        ...init,
        headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
        body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
      });
    const start = () => {
      const child = execa(process.execPath, [CLI, 'serve', '--config', configFile], {
        env: { HEALBOT_TOKEN: TOKEN, HEALING_ENABLED: 'true' },
        stdin: 'ignore',
        reject: false,
        all: true,
      });
      children.push(child);
      return child;
    };
    const ready = () =>
      waitFor(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok, 'healbot to listen', 45_000);

    const first = start();
    await ready();
    const started = await call('/api/heal', { method: 'POST', json: { service: 'api', by: 'ana' } });
    expect(started.status).toBe(202);
    const { incidentId } = await json(started);
    const approval = await waitFor(
      async () =>
        ((await json(await call('/api/approvals'))) as { id: string; incidentId: string }[]).find(
          (a) => a.incidentId === incidentId,
        ),
      'the approval request',
    );

    first.kill('SIGKILL');
    const killed = await first;
    expect(killed.signal).toBe('SIGKILL');
    expect(api.runs()).toBe(0);

    const second = start();
    await ready();
    // The startup monitoring round sees api failing: it joins the waiting incident, it opens no second one.
    await waitFor(
      async () =>
        /healbot_probe_duration_seconds_count\{service="api",probe="internal",ok="false"\} [1-9]/.test(
          await (await fetch(`${base}/metrics`)).text(),
        ),
      'the startup monitoring round',
    );
    expect(((await json(await call('/api/incidents'))) as { id: string }[]).map((i) => i.id)).toEqual([incidentId]);
    // Still open and still waiting, after the restart.
    expect((await json(await call(`/api/incidents/${incidentId}`))).status).toBe('open');
    expect(((await json(await call('/api/approvals'))) as { id: string }[]).map((a) => a.id)).toEqual([approval.id]);

    const decided = await call(`/api/approvals/${approval.id}`, {
      method: 'POST',
      json: { decision: 'approve', by: 'ana' },
    });
    expect(await json(decided)).toMatchObject({ ok: true, decision: 'approved' });
    const done = await waitFor(
      async () => {
        const record = await json(await call(`/api/incidents/${incidentId}`));
        return record.status === 'closed' && record;
      },
      'the resumed heal to finish',
      20_000,
    );
    expect(done.outcome).toBe('healed');
    expect(api.runs()).toBe(1);
    // A second approval of the same request after it ran changes nothing.
    expect(
      (await call(`/api/approvals/${approval.id}`, { method: 'POST', json: { decision: 'approve', by: 'bob' } }))
        .status,
    ).toBe(409);
    expect(api.runs()).toBe(1);

    second.kill('SIGTERM');
    const stopped = await second;
    expect(stopped.all).not.toContain(TOKEN);
    // The audit log, exported by the CLI, tells the whole story.
    const audit = await execa(process.execPath, [CLI, 'audit', '--config', configFile, '--service', 'api', '--json'], {
      env: { HEALBOT_TOKEN: TOKEN },
      reject: false,
    });
    expect(audit.exitCode).toBe(0);
    const events = audit.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).event as string);
    expect(events).toEqual(
      expect.arrayContaining([
        'requested',
        'approval_requested',
        'approved',
        'resumed_after_restart',
        'action',
        'outcome',
      ]),
    );
    expect(events.filter((e) => e === 'action')).toHaveLength(1);
  }, 180_000);
});

import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { freePort } from '../../src/free-port.js';
import { startServe, type RunningHealbot } from '../../src/serve.js';
import { requireOrSkip } from '../support/docker-engine.js';
import { postgresUnavailableReason, startPostgres } from '../support/postgres.js';
import { firingAlert, WEBHOOK_TOKEN } from '../support/replicas.js';

const postgres = await startPostgres();
const skip = !postgres && requireOrSkip(postgresUnavailableReason());

/**
 * The shared store goes away under a serving healbot (the real PostgreSQL is stopped): a webhook
 * it cannot record is a 503 with Retry-After, which Alertmanager retries, never a 4xx it would
 * drop; readiness says the store cannot be written; the leader steps down.
 */
describe.skipIf(skip)('healbot serve when Postgres goes away', () => {
  let running: RunningHealbot | undefined;
  let lost = 0;
  afterAll(async () => {
    await running?.close().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
  });

  it('answers 503 with Retry-After, is not ready, and gives up the lead', async () => {
    const storeUrl = await postgres!.createDatabase('outage');
    const port = await freePort();
    const config = parseConfig({
      store: { url: storeUrl, leader: { identity: 'only', leaseDuration: '1500ms' } },
      server: { listen: `127.0.0.1:${port}`, token: WEBHOOK_TOKEN },
      monitor: { interval: '1h', dockerEvents: false },
      services: { web: { probes: [{ name: 'internal', http: `http://127.0.0.1:${await freePort()}/ready` }] } },
    });
    running = await startServe(config, {
      console: false,
      monitoring: false,
      logWrite: () => undefined,
      onLostLeadership: () => (lost += 1),
    });
    const post = () =>
      fetch(`${running!.url}/webhooks/alertmanager`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(firingAlert('WebDown', 'web is down')),
      });
    expect((await post()).status).toBe(202);

    await postgres!.stop();
    const refused = await post();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(((await refused.json()) as { error: string }).error).toMatch(/^store\.url postgres:\/\//);
    const ready = await fetch(`${running.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ok: false, store: 'cannot be written' });
    const deadline = Date.now() + 15_000;
    while (lost === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lost).toBe(1);
  });
});

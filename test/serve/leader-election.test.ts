import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { startServe, type RunningHealbot } from '../../src/serve.js';
import { freePort } from '../support/images.js';
import { startCluster, type TestCluster } from '../kubernetes/cluster.js';
import { startBackend, tempDir, TOKEN, waitFor } from './harness.js';

/** Two replicas of `healbot serve` against the local Kubernetes API: one leads, one stands by. */
describe('healbot serve with leader election', () => {
  let cluster: TestCluster;
  const running: RunningHealbot[] = [];
  const dir = tempDir();

  afterEach(async () => {
    await Promise.allSettled(running.map((r) => r.close()));
    await cluster?.stop();
  });

  it('only the Lease holder acts; the standby is ready (it can serve), turns work away with Retry-After, and takes over when the leader stops', async () => {
    cluster = await startCluster();
    const backend = await startBackend();
    const config = (identity: string) =>
      parseConfig({
        server: { listen: '127.0.0.1:0', token: TOKEN },
        leaderElection: { namespace: 'healbot', identity, leaseDuration: '2s' },
        services: { api: { probes: [{ name: 'internal', http: backend.url }] } },
      });
    const options = (name: string, port: number) => ({
      listen: `127.0.0.1:${port}`,
      storePath: `${dir.path}/${name}.db`,
      console: false as const,
      monitoring: false,
      logWrite: () => undefined,
      kubeConfigFor: () => cluster.kubeConfig,
      onLostLeadership: () => undefined,
    });
    const [portA, portB] = [await freePort(), await freePort()];
    const a = await startServe(config('replica-a'), options('a', portA));
    running.push(a);
    let bStarted = false;
    const b = startServe(config('replica-b'), options('b', portB)).then((bot) => {
      bStarted = true;
      running.push(bot);
      return bot;
    });
    // The standby answers from the moment it listens; it names the leader once its first campaign round saw the Lease.
    const standby = await waitFor(async () => {
      const response = await fetch(`http://127.0.0.1:${portB}/readyz`).catch(() => undefined);
      const body = response && { status: response.status, json: (await response.json()) as { leader?: string } };
      return body?.json.leader ? body : undefined;
    }, 'the standby to name the leader');
    expect(standby.status).toBe(200);
    expect(standby.json).toEqual({ ok: true, standby: true, leader: 'replica-a' });
    expect((await fetch(`http://127.0.0.1:${portB}/healthz`)).status).toBe(200);
    const webhook = await fetch(`http://127.0.0.1:${portB}/webhooks/generic`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: '{"service":"api"}',
    });
    expect(webhook.status).toBe(503);
    expect(webhook.headers.get('retry-after')).toBe('5');
    expect(await webhook.json()).toMatchObject({
      standby: true,
      leader: 'replica-a',
      error: expect.stringContaining('replica-a leads'),
    });
    const leader = await fetch(`http://127.0.0.1:${portA}/readyz`);
    expect(leader.status).toBe(200);
    expect(await leader.json()).not.toHaveProperty('standby');
    expect(bStarted).toBe(false);
    expect(cluster.server.store.get('coordination.k8s.io/leases', 'healbot', 'healbot')?.spec.holderIdentity).toBe(
      'replica-a',
    );

    await a.close();
    running.splice(running.indexOf(a), 1);
    const bot = await b;
    expect(bStarted).toBe(true);
    expect((await fetch(`http://127.0.0.1:${portB}/readyz`)).status).toBe(200);
    expect(cluster.server.store.get('coordination.k8s.io/leases', 'healbot', 'healbot')?.spec.holderIdentity).toBe(
      'replica-b',
    );
    expect(bot.url).toBe(`http://127.0.0.1:${portB}`);
    await backend.close();
    dir.cleanup();
  });
});

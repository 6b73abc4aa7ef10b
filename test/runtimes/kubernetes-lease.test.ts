import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { LeaseElector } from '../../src/runtimes/kubernetes-lease.js';
import { FakeApiServer } from '../kubernetes/api-server.js';

let server: FakeApiServer;
const electors: LeaseElector[] = [];

function elector(identity: string, options: { releaseOnStop?: boolean; errors?: string[] } = {}) {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions(server.kubeConfigOptions());
  const e = new LeaseElector({
    kubeConfig,
    namespace: 'healbot',
    identity,
    leaseDurationSeconds: 1,
    retryPeriodMs: 100,
    releaseOnStop: options.releaseOnStop,
    onError: (m) => options.errors?.push(m),
  });
  electors.push(e);
  return e;
}

async function until(predicate: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeEach(async () => {
  server = new FakeApiServer();
  await server.start();
});

afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
  await server.stop();
});

describe('LeaseElector', () => {
  it('exactly one of two electors leads, and the Lease names it', async () => {
    const a = elector('healbot-a');
    const b = elector('healbot-b');
    await Promise.all([a.start(), b.start()]);
    await until(() => a.isLeader() || b.isLeader());
    // Several renew rounds later there is still exactly one leader.
    await new Promise((r) => setTimeout(r, 350));
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    const leader = a.isLeader() ? 'healbot-a' : 'healbot-b';
    const lease = server.store.get('coordination.k8s.io/leases', 'healbot', 'healbot')!;
    expect(lease.spec.holderIdentity).toBe(leader);
    expect(lease.spec.leaseDurationSeconds).toBe(1);
    expect(lease.spec.renewTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    const writes = server.requests.filter(
      (r) => r.resource === 'leases' && (r.verb === 'update' || r.verb === 'create'),
    );
    expect(writes.length).toBeGreaterThan(1);
  });

  it('when the leader stops without releasing, the other takes over after the lease expires', async () => {
    const a = elector('healbot-a', { releaseOnStop: false });
    await a.start();
    expect(a.isLeader()).toBe(true);
    const b = elector('healbot-b');
    await b.start();
    expect(b.isLeader()).toBe(false);
    await a.stop();
    expect(a.isLeader()).toBe(false);
    // Not released: the Lease still names a, so b must wait for it to expire.
    expect(server.store.get('coordination.k8s.io/leases', 'healbot', 'healbot')!.spec.holderIdentity).toBe('healbot-a');
    expect(b.isLeader()).toBe(false);
    await until(() => b.isLeader());
    const lease = server.store.get('coordination.k8s.io/leases', 'healbot', 'healbot')!;
    expect(lease.spec.holderIdentity).toBe('healbot-b');
    expect(lease.spec.leaseTransitions).toBe(1);
  });

  it('a leader that releases on stop hands over without waiting for expiry', async () => {
    const a = elector('healbot-a');
    await a.start();
    const b = elector('healbot-b');
    await b.start();
    await a.stop();
    expect(server.store.get('coordination.k8s.io/leases', 'healbot', 'healbot')!.spec.holderIdentity).toBe('');
    await until(() => b.isLeader());
  });

  it('a conflicting write loses the round instead of claiming leadership', async () => {
    const a = elector('healbot-a');
    await a.start();
    // Another writer bumps the resourceVersion between a's read and write.
    server.authorize = (req) => {
      if (req.verb === 'update' && req.resource === 'leases') {
        const lease = server.store.get('coordination.k8s.io/leases', 'healbot', 'healbot')!;
        server.store.put('coordination.k8s.io/leases', lease);
      }
      return true;
    };
    await new Promise((r) => setTimeout(r, 1300));
    expect(a.isLeader()).toBe(false);
  });

  it('a forbidden Lease is reported with the missing verb and the elector does not lead', async () => {
    const errors: string[] = [];
    server.authorize = (req) => !(req.resource === 'leases' && req.verb === 'create');
    const a = elector('healbot-a', { errors });
    await a.start();
    expect(a.isLeader()).toBe(false);
    expect(errors[0]).toBe('forbidden: healbot cannot "create" "leases" in namespace "healbot" — add it to the Role');
  });
});

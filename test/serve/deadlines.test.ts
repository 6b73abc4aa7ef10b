import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { HealReport } from '../../src/engine/types.js';
import { startCluster, type TestCluster } from '../kubernetes/cluster.js';
import { startSilentProxy, type SilentProxy } from '../support/silent-proxy.js';
import { countedService, startTestBot, tempDir, waitFor, type TestBot } from './harness.js';

/**
 * A Kubernetes API that accepts connections and never answers (a proxy in front of the local
 * API server that swallows the chosen requests): every call has a deadline, an action ends as a
 * clear failure and releases its target, and a leader that cannot renew its Lease stops acting.
 */
const NS = 'shop';
let cluster: TestCluster | undefined;
let proxy: SilentProxy | undefined;
let bot: TestBot | undefined;
const dir = tempDir();

afterEach(async () => {
  await bot?.close();
  bot = undefined;
  await proxy?.close();
  await cluster?.stop();
});

async function silentCluster(): Promise<KubeConfig> {
  cluster = await startCluster();
  proxy = await startSilentProxy({ port: Number(new URL(cluster.server.url!).port) });
  const options = cluster.server.kubeConfigOptions();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({ ...options, clusters: options.clusters.map((c) => ({ ...c, server: proxy!.address })) });
  return kubeConfig;
}

function nextReport(service: string): Promise<HealReport> {
  return new Promise((resolve) => {
    const stop = bot!.bot.api.subscribe((event) => {
      if (event.type === 'done' && event.report.service === service) stop(), resolve(event.report);
    });
  });
}

describe('a deadline on every call', () => {
  it('an action against a Kubernetes API that never answers fails within actionTimeout with one clear line, and the service is not left locked', async () => {
    const kubeConfig = await silentCluster();
    cluster!.controller.createDeployment({ namespace: NS, name: 'api', replicas: 0, labels: { app: 'api' } });
    bot = await startTestBot(
      {
        healing: { actionTimeout: '2s', verifyTimeout: '5s' },
        services: {
          api: { kubernetes: { namespace: NS, deployment: 'api', replicas: 2 }, policy: { auto: ['scale'] } },
        },
      },
      { kubeConfigFor: () => kubeConfig },
    );
    proxy!.silent = (req) => req.method === 'PATCH';
    const failed = nextReport('api');
    expect((await bot.call('/api/heal', { method: 'POST', json: { service: 'api' } })).status).toBe(202);
    const report = await failed;
    expect(report.outcome, report.summary).toBe('failed');
    expect(report.actions).toHaveLength(1);
    expect(report.actions[0].error).toBe(
      'Kubernetes API did not answer within 2 s (patch deployments/scale "api" in namespace "shop")',
    );
    expect(report.summary.split('\n')).toHaveLength(1);
    expect(proxy!.swallowed).toEqual([
      expect.stringMatching(/^PATCH \/apis\/apps\/v1\/namespaces\/shop\/deployments\/api\/scale/),
    ]);
    await waitFor(() => Object.keys(bot!.bot.engine.openIncidents()).length === 0, 'the incident to let go of api');

    proxy!.silent = () => false;
    const healed = nextReport('api');
    expect((await bot.call('/api/heal', { method: 'POST', json: { service: 'api' } })).status).toBe(202);
    expect((await healed).outcome).toBe('healed');
  });

  it('a leader whose Lease renewals hang stops acting within the lease duration, /readyz says why, and a heal acts on nothing', async () => {
    const kubeConfig = await silentCluster();
    const service = countedService(dir.path, 'worker', { auto: ['start', 'restart'] });
    bot = await startTestBot(
      {
        leaderElection: { namespace: 'healbot', identity: 'replica-a', leaseDuration: '2s' },
        services: { worker: service.config },
      },
      { kubeConfigFor: () => kubeConfig, onLostLeadership: () => undefined },
    );
    expect((await bot.call('/readyz')).status).toBe(200);
    proxy!.silent = (req) => req.url?.includes('/leases') ?? false;
    const body = await waitFor(async () => {
      const res = await bot!.call('/readyz');
      return res.status === 503 ? ((await res.json()) as { reason?: string }) : undefined;
    }, '/readyz to turn 503');
    expect(body.reason).toMatch(
      /^could not renew the Lease "healbot" within 2 s \(Kubernetes API did not answer within [\d.]+ s \((get|update) leases "healbot" in namespace "healbot"\)\): this replica stopped acting$/,
    );

    const report = nextReport('worker');
    expect((await bot.call('/api/heal', { method: 'POST', json: { service: 'worker' } })).status).toBe(202);
    const done = await report;
    expect(done.outcome).toBe('escalated');
    expect(done.summary).toMatch(
      /could not renew the Lease "healbot" within 2 s .*: this replica stopped acting; nothing was done here$/i,
    );
    expect(done.actions).toEqual([]);
    expect(service.runs()).toBe(0);
  });
});

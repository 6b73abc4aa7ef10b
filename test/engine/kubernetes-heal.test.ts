import { AppsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHealbot, loadRuntimes, type Healbot } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { ProgressEvent } from '../../src/engine/types.js';
import { KubernetesRuntime } from '../../src/runtimes/kubernetes.js';
import { startCluster, type TestCluster } from '../kubernetes/cluster.js';

/**
 * Scenarios 6-10 through the whole engine: the real @kubernetes/client-node against the
 * local API server and its controller, approvals decided as an approver would.
 */
const NS = 'shop';
let cluster: TestCluster;
let bot: Healbot;
let events: ProgressEvent[];

await loadRuntimes(parseConfig({ services: { api: { kubernetes: { namespace: NS, deployment: 'api' } } } }));

function start(policy: Record<string, unknown> = {}, service = 'api') {
  const config = parseConfig({
    healing: { verifyTimeout: '5s', actionTimeout: '3s', approvers: ['U0ONCALL'] },
    oncall: ['<@U0ONCALL>'],
    services: { api: { kubernetes: { namespace: NS, deployment: 'api', service }, policy } },
  });
  bot = createHealbot(config, { storePath: ':memory:', kubeConfigFor: () => cluster.kubeConfig });
  events = [];
  bot.api.subscribe((event) => {
    events.push(event);
    if (event.type === 'awaiting_approval')
      void bot.api.decide(event.request.id, { platform: 'slack', id: 'U0ONCALL', display: '@ana' }, 'approve');
  });
}

const deployment = () => cluster.server.store.get('apps/deployments', NS, 'api')!;
const ready = (n: number) =>
  cluster.controller.waitFor(
    () => deployment().status?.readyReplicas === n && deployment().status?.updatedReplicas === n,
    5000,
    `${n} ready`,
  );

beforeEach(async () => {
  cluster = await startCluster();
  cluster.controller.createDeployment({
    namespace: NS,
    name: 'api',
    replicas: 2,
    labels: { app: 'api' },
    memoryLimit: '128Mi',
    image: 'registry.example/shop/api:1.4',
  });
  cluster.controller.createService(NS, 'api', { app: 'api' });
  await ready(2);
});

afterEach(async () => {
  await bot?.close();
  await cluster.stop();
});

describe('healing Kubernetes Deployments through the engine', () => {
  it('scenario 6: scaled to zero → scaled back to the last known count after approval', async () => {
    start();
    await bot.api.diagnose('api'); // healbot remembers the replica count while it is healthy
    await new KubernetesRuntime({ namespace: NS, deployment: 'api' }, { kubeConfig: cluster.kubeConfig }).perform({
      action: 'scale',
      params: { replicas: 0 },
    });
    await ready(0);
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.rootCause.kind).toBe('scaled_to_zero');
    expect(report.plan).toEqual([expect.objectContaining({ action: 'scale', risk: 'risky', params: { replicas: 2 } })]);
    expect(report.outcome).toBe('healed');
    expect(report.approvedBy).toEqual(['@ana']);
    expect(deployment().spec.replicas).toBe(2);
  });

  it('scaled to zero by a person (kubectl scale): monitoring leaves it at 0; /heal offers the scale, always with an approval', async () => {
    start({ auto: ['scale'] });
    await bot.api.diagnose('api');
    const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
    await apps.patchNamespacedDeploymentScale(
      { name: 'api', namespace: NS, body: { spec: { replicas: 0 } }, fieldManager: 'kubectl-scale' },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await ready(0);
    const automatic = await bot.api.heal({ service: 'api', source: 'monitor' });
    expect(automatic.rootCause.kind).toBe('scaled_to_zero');
    expect(automatic.rootCause.summary).toMatch(
      /scaled to zero through the Kubernetes API \(kubectl-scale set replicas to 0 at \d\d:\d\d:\d\d UTC\)/,
    );
    expect(automatic.outcome).toBe('not_needed');
    expect(automatic.summary).toMatch(/healbot will not scale it back up unasked/);
    expect(automatic.actions).toEqual([]);
    expect(deployment().spec.replicas).toBe(0);
    const asked = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(asked.plan[0]).toMatchObject({ action: 'scale', askFirst: true, params: { replicas: expect.any(Number) } });
    expect(events.some((e) => e.type === 'awaiting_approval' && e.incidentId === asked.incidentId)).toBe(true);
    expect(asked.outcome).toBe('healed');
    expect(deployment().spec.replicas).toBe(asked.plan[0].params?.replicas);
  });

  it('scenario 7: a crash loop gets a rollout restart; when it keeps crashing the breaker stops it and escalates with exit codes', async () => {
    start({ breaker: { threshold: 2, window: '1h' } });
    cluster.controller.setFault(NS, 'api', {
      kind: 'crash_loop',
      exitCode: 3,
      restarts: 5,
      logs: ['boom: cannot parse config'],
    });
    await cluster.controller.waitFor(() => (deployment().status?.readyReplicas ?? 0) === 0, 5000, 'crashing');
    const first = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(first.rootCause.kind).toBe('crash_loop');
    expect(first.actions[0]).toMatchObject({ action: 'rollout_restart', target: 'api', ok: false });
    expect(first.outcome).toBe('failed');
    const restartedAt = deployment().spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'];
    expect(restartedAt).toBeDefined();
    const second = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(second.outcome).toBe('failed');
    expect(second.escalation).toMatch(/breaker is open/);
    const third = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(third.actions).toEqual([]);
    expect(third.outcome).toBe('escalated');
    expect(third.summary).toMatch(/exit code 3/);
    expect(third.escalation).toContain('<@U0ONCALL>');
  });

  it('scenario 8: image pull failure → no automated fix, the image and the error are named', async () => {
    start();
    cluster.controller.setFault(NS, 'api', {
      kind: 'image_pull',
      reason: 'ImagePullBackOff',
      message: 'manifest unknown',
    });
    await cluster.controller.waitFor(() => (deployment().status?.readyReplicas ?? 0) === 0, 5000, 'failing');
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.rootCause.kind).toBe('image_pull_failed');
    expect(report.rootCause.summary).toContain('registry.example/shop/api:1.4');
    expect(report.plan.every((s) => s.risk === 'manual')).toBe(true);
    expect(report.actions).toEqual([]);
    expect(report.outcome).toBe('escalated');
    expect(events.some((e) => e.type === 'awaiting_approval')).toBe(false);
  });

  it('scenario 9: the Service selects no pods → no_endpoints, restarting would not help', async () => {
    cluster.controller.createService(NS, 'api-typo', { app: 'apii' });
    start({}, 'api-typo');
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.rootCause.kind).toBe('no_endpoints');
    expect(report.rootCause.evidence.map((e) => e.detail).join(' ')).toMatch(/app=apii/);
    expect(report.actions).toEqual([]);
    expect(report.outcome).toBe('escalated');
  });

  it('scenario 10: a pod being recreated → healbot waits and verifies, and does not act', async () => {
    start();
    cluster.controller.beginRecreation(NS, 'api');
    setTimeout(() => cluster.controller.finishRecreation(NS, 'api'), 500);
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.rootCause.kind).toBe('recreating');
    expect(report.actions).toEqual([]);
    expect(report.outcome).toBe('not_needed');
    expect(
      cluster.server.requests.some(
        (r) => r.verb === 'patch' && r.resource === 'deployments' && r.subresource !== undefined,
      ),
    ).toBe(false);
  });

  it('a bad rollout: the new ReplicaSet crash-loops while the old one serves → rollout_undo after approval, back on the old template', async () => {
    start();
    const good = 'registry.example/shop/api:1.4';
    const bad = 'registry.example/shop/api:1.5';
    cluster.controller.setFault(NS, 'api', {
      kind: 'crash_loop',
      image: bad,
      exitCode: 2,
      logs: ['panic: assignment to entry in nil map'],
    });
    const release = deployment();
    release.spec.template.spec.containers[0].image = bad;
    cluster.server.store.put('apps/deployments', release);
    const pods = () => cluster.server.store.list('/pods', NS).filter((p) => !p.metadata.deletionTimestamp);
    await cluster.controller.waitFor(
      () =>
        pods().filter(
          (p) =>
            p.spec.containers[0].image === bad &&
            p.status.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff',
        ).length === 2,
      5000,
      'the new pods crash-looping',
    );
    expect(
      pods().filter((p) => p.spec.containers[0].image === good && p.status.conditions[0].status === 'True'),
    ).toHaveLength(2);

    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.rootCause.kind).toBe('bad_rollout');
    expect(report.rootCause.summary).toContain(
      `the new revision 2 (${bad}) crash-loops (2 of 2 new pods, exit code 2) while revision 1 (${good}) is still available (2 pods)`,
    );
    expect(report.plan).toEqual([
      expect.objectContaining({
        action: 'rollout_undo',
        target: 'api',
        risk: 'risky',
        params: { revision: 1, image: good },
      }),
    ]);
    expect(report.approvedBy).toEqual(['@ana']);
    expect(report.outcome).toBe('healed');
    expect(report.summary).toMatch(/rolled back the rollout of api after approval by @ana; healthy again in/);
    expect(events.some((e) => e.type === 'verified' && e.ok)).toBe(true);
    expect(deployment().spec.template.spec.containers[0].image).toBe(good);
    await ready(2);
    expect(pods().every((p) => p.spec.containers[0].image === good)).toBe(true);
    const sets = cluster.server.store
      .list('apps/replicasets', NS)
      .map((rs) => [
        rs.spec.template.spec.containers[0].image,
        rs.metadata.annotations['deployment.kubernetes.io/revision'],
      ]);
    expect(sets).toEqual(
      expect.arrayContaining([
        [good, '3'],
        [bad, '2'],
      ]),
    );
  });

  it("a missing ConfigMap key: pods cannot start, Kubernetes' own words name the key, and a restart is not offered", async () => {
    start();
    cluster.controller.setFault(NS, 'api', {
      kind: 'config_error',
      message: "couldn't find key DATABASE_URL in ConfigMap shop/api-config",
    });
    await cluster.controller.waitFor(() => deployment().status?.readyReplicas === 0, 5000, 'no ready pods');
    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.rootCause).toMatchObject({
      kind: 'service_down',
      pattern: { id: 'missing_config', subject: 'DATABASE_URL', source: 'pod status' },
    });
    expect(report.rootCause.summary).toContain('cannot start container app (CreateContainerConfigError');
    expect(report.plan).toEqual([
      expect.objectContaining({
        action: 'manual',
        reason: expect.stringContaining('set the missing setting DATABASE_URL'),
      }),
    ]);
    expect(report.actions).toEqual([]);
    expect(report.outcome).toBe('escalated');
  });
});

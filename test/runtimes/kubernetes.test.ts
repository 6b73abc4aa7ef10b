import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  KubernetesRuntime,
  LAST_REPLICAS_ANNOTATION,
  RESTARTED_AT_ANNOTATION,
  forbiddenMessage,
} from '../../src/runtimes/kubernetes.js';
import { kubernetesRootCause } from '../../src/engine/rules/kubernetes.js';
import { createRedactor } from '../../src/redact.js';
import { RuntimeError } from '../../src/errors.js';
import { startCluster, type TestCluster } from '../kubernetes/cluster.js';

const NS = 'shop';
let cluster: TestCluster;

function deployment() {
  return cluster.server.store.get('apps/deployments', NS, 'api')!;
}

async function untilReady(replicas: number) {
  await cluster.controller.waitFor(
    () => {
      const d = deployment();
      return (
        d.status?.readyReplicas === replicas &&
        d.status?.replicas === replicas &&
        d.status?.updatedReplicas === replicas
      );
    },
    5000,
    `${replicas} ready replicas`,
  );
}

async function untilFailing() {
  await cluster.controller.waitFor(() => (deployment().status?.readyReplicas ?? 0) === 0, 5000, 'no ready replicas');
}

function runtime(overrides: { replicas?: number; service?: string; timeoutMs?: number } = {}) {
  return new KubernetesRuntime(
    { namespace: NS, deployment: 'api', service: overrides.service ?? 'api', replicas: overrides.replicas },
    {
      kubeConfig: cluster.kubeConfig,
      redact: createRedactor(['hunter2']),
      rolloutTimeoutMs: overrides.timeoutMs ?? 5000,
    },
  );
}

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
  await untilReady(2);
});

afterEach(async () => {
  await cluster.stop();
});

describe('KubernetesRuntime.inspect', () => {
  it('reports a healthy deployment as running with pods, endpoints and events, and no root cause', async () => {
    const state = await runtime().inspect();
    expect(state.runtime).toBe('kubernetes');
    expect(state.status).toBe('running');
    expect(state.health).toBe('healthy');
    const k = state.kubernetes!;
    expect(k).toMatchObject({
      namespace: NS,
      deployment: 'api',
      desiredReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      updatedReplicas: 2,
      memoryLimit: '128Mi',
    });
    expect(k.pods).toHaveLength(2);
    expect(k.pods.every((p) => p.ready && p.phase === 'Running' && p.labels.app === 'api')).toBe(true);
    expect(k.pods[0].containers[0]).toMatchObject({
      name: 'app',
      image: 'registry.example/shop/api:1.4',
      restartCount: 0,
    });
    expect(k.service).toEqual({ name: 'api', selector: { app: 'api' }, readyEndpoints: 2, notReadyEndpoints: 0 });
    expect(k.events.some((e) => e.reason === 'ScalingReplicaSet' && e.object === 'deployment/api')).toBe(true);
    expect(state.memory?.limitBytes).toBe(128 * 1024 * 1024);
    expect(kubernetesRootCause('api', state, [])).toBeUndefined();
  });

  it('inspecting changes nothing: no annotation is written, no mutating request is sent', async () => {
    const state = await runtime().inspect();
    expect(state.kubernetes?.lastKnownReplicas).toBe(2);
    expect(deployment().metadata.annotations[LAST_REPLICAS_ANNOTATION]).toBeUndefined();
    expect(cluster.server.requests.filter((r) => !['get', 'list', 'watch'].includes(r.verb))).toEqual([]);
  });

  it('scenario 6: a deployment healbot scaled to zero is scaled_to_zero with the count it noted', async () => {
    await runtime().perform({ action: 'scale', params: { replicas: 0 } }); // healbot notes the 2 it replaces
    await untilReady(0);
    const state = await runtime().inspect();
    expect(state.status).toBe('exited');
    expect(state.kubernetes).toMatchObject({ desiredReplicas: 0, lastKnownReplicas: 2 });
    const cause = kubernetesRootCause('api', state, []);
    expect(cause?.kind).toBe('scaled_to_zero');
    expect(cause?.summary).toContain('scale it back to 2');
  });

  it('scenario 6: the configured replica count wins over the annotation', async () => {
    const d = deployment();
    d.spec.replicas = 0;
    cluster.server.store.put('apps/deployments', d);
    await untilReady(0);
    const state = await runtime({ replicas: 3 }).inspect();
    expect(state.kubernetes?.lastKnownReplicas).toBe(3);
  });

  it('scenario 7: CrashLoopBackOff is crash_loop with exit codes, restarts and redacted previous logs', async () => {
    cluster.controller.setFault(NS, 'api', { kind: 'crash_loop', exitCode: 3, restarts: 7 });
    await untilFailing();
    const state = await runtime().inspect();
    expect(state.status).toBe('restarting');
    expect(state.exitCode).toBe(3);
    expect(state.restartCount).toBe(7);
    expect(state.kubernetes!.pods[0].containers[0]).toMatchObject({
      waitingReason: 'CrashLoopBackOff',
      lastTerminatedReason: 'Error',
      exitCode: 3,
    });
    expect(state.logs).toContain('fatal: cannot connect to database password=[REDACTED]');
    expect(state.logs!.join('\n')).not.toContain('hunter2');
    expect(state.kubernetes!.events.some((e) => e.reason === 'BackOff')).toBe(true);
    const cause = kubernetesRootCause('api', state, []);
    expect(cause?.kind).toBe('crash_loop');
    expect(cause?.summary).toContain('exit code 3');
    expect(cause?.summary).toContain('7 restarts');
  });

  it('scenario 8: ImagePullBackOff is image_pull_failed naming the image and the pull error', async () => {
    cluster.controller.setFault(NS, 'api', { kind: 'image_pull' });
    await untilFailing();
    const state = await runtime().inspect();
    expect(state.kubernetes!.pods[0].containers[0].waitingReason).toBe('ImagePullBackOff');
    const cause = kubernetesRootCause('api', state, []);
    expect(cause?.kind).toBe('image_pull_failed');
    expect(cause?.summary).toContain('registry.example/shop/api:1.4');
    expect(cause?.summary).toContain('Failed to pull image');
  });

  it('scenario 11: an OOMKilled last state is oom_killed with the memory limit', async () => {
    cluster.controller.setFault(NS, 'api', { kind: 'oom_killed' });
    await untilFailing();
    const state = await runtime().inspect();
    expect(state.oomKilled).toBe(true);
    expect(state.exitCode).toBe(137);
    const cause = kubernetesRootCause('api', state, []);
    expect(cause?.kind).toBe('oom_killed');
    expect(cause?.summary).toContain('memory limit 128Mi');
  });

  it('scenario 9: a Service whose selector matches no pod is no_endpoints showing selector and labels', async () => {
    cluster.controller.createService(NS, 'api', { app: 'api-v2' });
    await cluster.controller.waitFor(
      () => cluster.server.store.get('/endpoints', NS, 'api')?.subsets?.length === 0,
      5000,
      'empty endpoints',
    );
    const state = await runtime().inspect();
    expect(state.kubernetes!.service).toMatchObject({ selector: { app: 'api-v2' }, readyEndpoints: 0 });
    const cause = kubernetesRootCause('api', state, []);
    expect(cause?.kind).toBe('no_endpoints');
    expect(cause?.summary).toContain('app=api-v2');
    expect(cause?.evidence.some((e) => e.detail.includes('labels: app=api'))).toBe(true);
  });

  it('scenario 10: a pod terminating while its replacement starts is recreating', async () => {
    const victim = cluster.controller.beginRecreation(NS, 'api');
    await cluster.controller.waitFor(
      () => cluster.controller.podsOf(deployment()).length === 3,
      5000,
      'a replacement pod',
    );
    const state = await runtime().inspect();
    const pods = state.kubernetes!.pods;
    expect(pods.find((p) => p.name === victim)?.deleting).toBe(true);
    expect(pods.filter((p) => !p.deleting && !p.ready)).toHaveLength(1);
    const cause = kubernetesRootCause('api', state, []);
    expect(cause?.kind).toBe('recreating');
    expect(cause?.summary).toContain(victim);
    cluster.controller.finishRecreation(NS, 'api');
    await untilReady(2);
    expect(kubernetesRootCause('api', await runtime().inspect(), [])).toBeUndefined();
  });

  it('a deployment that does not exist is missing, not an error thrown', async () => {
    const state = await new KubernetesRuntime(
      { namespace: NS, deployment: 'nope' },
      { kubeConfig: cluster.kubeConfig },
    ).inspect();
    expect(state.status).toBe('missing');
    expect(state.error).toContain('"nope" not found');
  });

  it('an unreachable API server is unknown with an error, never a throw', async () => {
    await cluster.stop();
    const state = await runtime().inspect();
    expect(state.status).toBe('unknown');
    expect(state.error).toMatch(/cannot reach the Kubernetes API/);
    cluster = await startCluster(); // for afterEach
  });

  it('a 403 names the missing verb and resource', async () => {
    cluster.server.authorize = (a) => !(a.verb === 'list' && a.resource === 'pods');
    const state = await runtime().inspect();
    expect(state.status).toBe('unknown');
    expect(state.error).toBe('forbidden: healbot cannot "list" "pods" in namespace "shop" — add it to the Role');
    expect(state.error).toBe(forbiddenMessage({ verb: 'list', resource: 'pods', namespace: 'shop' }));
  });

  it('a 403 on an action names the subresource', async () => {
    cluster.server.authorize = (a) => a.subresource !== 'scale';
    await expect(runtime().perform({ action: 'scale', params: { replicas: 3 } })).rejects.toThrow(
      'forbidden: healbot cannot "patch" "deployments/scale" in namespace "shop"',
    );
  });
});

describe('KubernetesRuntime.perform', () => {
  it('supports scale, rollout_restart and delete_pod only', () => {
    const r = runtime();
    expect(['scale', 'rollout_restart', 'delete_pod'].every((a) => r.supports(a as 'scale'))).toBe(true);
    expect(r.supports('restart')).toBe(false);
  });

  it('scale back from zero restores the replicas and returns once the watch sees the rollout complete', async () => {
    const r = runtime();
    await r.inspect();
    await r.perform({ action: 'scale', params: { replicas: 0 } });
    expect(deployment().status.replicas).toBe(0);
    expect(deployment().metadata.annotations[LAST_REPLICAS_ANNOTATION]).toBe('2');
    const lastKnown = (await r.inspect()).kubernetes!.lastKnownReplicas!;
    await r.perform({ action: 'scale', params: { replicas: lastKnown } });
    const d = deployment();
    expect(d.spec.replicas).toBe(2);
    expect(d.status).toMatchObject({
      readyReplicas: 2,
      updatedReplicas: 2,
      availableReplicas: 2,
      observedGeneration: d.metadata.generation,
    });
    const scaleCalls = cluster.server.requests.filter((q) => q.subresource === 'scale');
    expect(scaleCalls.every((q) => q.verb === 'patch' && q.contentType === 'application/merge-patch+json')).toBe(true);
    expect(cluster.server.requests.some((q) => q.verb === 'watch' && q.resource === 'deployments')).toBe(true);
  });

  it('rollout_restart patches the restartedAt annotation as a strategic merge patch and replaces every pod', async () => {
    const before = cluster.controller.podsOf(deployment()).map((p) => p.metadata.name);
    const now = new Date('2030-01-02T03:04:05.000Z');
    const r = new KubernetesRuntime(
      { namespace: NS, deployment: 'api' },
      { kubeConfig: cluster.kubeConfig, now: () => now, rolloutTimeoutMs: 5000 },
    );
    await r.perform({ action: 'rollout_restart' });
    const d = deployment();
    expect(d.spec.template.metadata.annotations[RESTARTED_AT_ANNOTATION]).toBe('2030-01-02T03:04:05.000Z');
    expect(d.spec.template.spec.containers[0].image).toBe('registry.example/shop/api:1.4');
    const patch = cluster.server.requests.find(
      (q) =>
        q.verb === 'patch' &&
        q.resource === 'deployments' &&
        q.contentType === 'application/strategic-merge-patch+json',
    );
    expect(patch).toBeDefined();
    expect(d.status.readyReplicas).toBe(2);
    await cluster.controller.waitFor(() => cluster.controller.podsOf(deployment()).length === 2, 5000, 'old pods gone');
    const after = cluster.controller.podsOf(deployment()).map((p) => p.metadata.name);
    expect(after.some((name) => before.includes(name))).toBe(false);
  });

  it('rollout_restart of a deployment that still crashes times out naming the rollout state', async () => {
    cluster.controller.setFault(NS, 'api', { kind: 'crash_loop' });
    await untilFailing();
    const r = runtime({ timeoutMs: 300 });
    await expect(r.perform({ action: 'rollout_restart' })).rejects.toThrow(
      /timed out after 0 s waiting for deployment "api" in namespace "shop" to roll out \(ready 0\/2/,
    );
  });

  it('delete_pod deletes the named pod and waits for its replacement', async () => {
    const [victim] = cluster.controller.podsOf(deployment()).map((p) => p.metadata.name as string);
    await runtime().perform({ action: 'delete_pod', params: { pod: victim } });
    const names = cluster.controller.podsOf(deployment()).map((p) => p.metadata.name);
    expect(names).not.toContain(victim);
    expect(deployment().status.readyReplicas).toBe(2);
    expect(cluster.server.requests.some((q) => q.verb === 'delete' && q.resource === 'pods' && q.name === victim)).toBe(
      true,
    );
  });

  it('delete_pod refuses a pod that belongs to another workload', async () => {
    cluster.controller.createDeployment({ namespace: NS, name: 'db', replicas: 1, labels: { app: 'db' } });
    await cluster.controller.waitFor(
      () => cluster.server.store.get('apps/deployments', NS, 'db')?.status?.readyReplicas === 1,
    );
    const [dbPod] = cluster.controller.podsOf(cluster.server.store.get('apps/deployments', NS, 'db')!);
    await expect(runtime().perform({ action: 'delete_pod', params: { pod: dbPod.metadata.name } })).rejects.toThrow(
      /does not belong to deployment "api"/,
    );
    expect(cluster.server.requests.some((q) => q.verb === 'delete')).toBe(false);
  });

  it('a rollout that never completes is a RuntimeError after the timeout', async () => {
    cluster.controller.setFault(NS, 'api', { kind: 'image_pull' });
    const error = await runtime()
      .perform({ action: 'scale', params: { replicas: 3 } }, { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect(String((error as Error).message)).toContain('to roll out');
  });

  it('scale rejects a replica count that is not a whole number', async () => {
    await expect(runtime().perform({ action: 'scale', params: { replicas: 'two' } })).rejects.toThrow(/whole number/);
  });
});

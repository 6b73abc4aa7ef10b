import { describe, expect, it } from 'vitest';
import { kubernetesRootCause } from '../../../src/engine/rules/kubernetes.js';
import type {
  KubernetesContainerState,
  KubernetesPodState,
  KubernetesState,
  ProbeResult,
  RuntimeState,
} from '../../../src/engine/types.js';

const container = (over: Partial<KubernetesContainerState> = {}): KubernetesContainerState => ({
  name: 'app',
  ready: true,
  restartCount: 0,
  image: 'registry.example/shop/api:1.4',
  ...over,
});

const pod = (
  name: string,
  over: Partial<KubernetesPodState> = {},
  c: Partial<KubernetesContainerState> = {},
): KubernetesPodState => ({
  name,
  phase: 'Running',
  ready: true,
  deleting: false,
  labels: { app: 'api', 'pod-template-hash': 'abc' },
  containers: [container(c)],
  ...over,
});

function state(over: Partial<KubernetesState> = {}, runtime: Partial<RuntimeState> = {}): RuntimeState {
  return {
    runtime: 'kubernetes',
    target: 'deployment/api in shop',
    status: 'running',
    ...runtime,
    kubernetes: {
      namespace: 'shop',
      deployment: 'api',
      desiredReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      updatedReplicas: 2,
      pods: [pod('api-1'), pod('api-2')],
      service: { name: 'api', selector: { app: 'api' }, readyEndpoints: 2, notReadyEndpoints: 0 },
      events: [],
      ...over,
    },
  };
}

const failedProbe: ProbeResult = { service: 'api', name: 'ready', ok: false, status: 503, error: 'HTTP 503', ms: 3 };

describe('kubernetesRootCause', () => {
  it('returns undefined for a healthy deployment so the generic rules decide', () => {
    expect(kubernetesRootCause('api', state(), [])).toBeUndefined();
  });

  it('returns undefined without Kubernetes state', () => {
    expect(kubernetesRootCause('api', { runtime: 'docker', target: 'api', status: 'running' }, [])).toBeUndefined();
  });

  it('scenario 6: desired 0 is scaled_to_zero and says the count to restore', () => {
    const cause = kubernetesRootCause(
      'api',
      state({ desiredReplicas: 0, readyReplicas: 0, availableReplicas: 0, pods: [], lastKnownReplicas: 3 }),
      [],
    );
    expect(cause).toMatchObject({ kind: 'scaled_to_zero', service: 'api', confidence: 0.95 });
    expect(cause!.summary).toContain('scale it back to 3');
  });

  it('scenario 6: without a known count the summary says how to provide one', () => {
    const cause = kubernetesRootCause(
      'api',
      state({ desiredReplicas: 0, readyReplicas: 0, availableReplicas: 0, pods: [] }),
      [],
    );
    expect(cause?.kind).toBe('scaled_to_zero');
    expect(cause!.summary).toContain('set kubernetes.replicas');
  });

  it('scenario 8: ImagePullBackOff is image_pull_failed naming the image and the pull error event', () => {
    const c = {
      ready: false,
      waitingReason: 'ImagePullBackOff',
      waitingMessage: 'Back-off pulling image "registry.example/shop/api:1.5"',
      image: 'registry.example/shop/api:1.5',
    };
    const cause = kubernetesRootCause(
      'api',
      state({
        readyReplicas: 0,
        pods: [pod('api-1', { phase: 'Pending', ready: false }, c)],
        events: [
          {
            type: 'Warning',
            reason: 'Failed',
            message: 'Failed to pull image "registry.example/shop/api:1.5": manifest unknown',
            object: 'pod/api-1',
          },
        ],
      }),
      [],
    );
    expect(cause).toMatchObject({ kind: 'image_pull_failed', confidence: 0.95 });
    expect(cause!.summary).toContain('registry.example/shop/api:1.5');
    expect(cause!.summary).toContain('manifest unknown');
  });

  it('scenario 8: ErrImagePull without events still names the waiting message', () => {
    const cause = kubernetesRootCause(
      'api',
      state({
        readyReplicas: 0,
        pods: [
          pod(
            'api-1',
            { phase: 'Pending', ready: false },
            { ready: false, waitingReason: 'ErrImagePull', waitingMessage: 'unauthorized: authentication required' },
          ),
        ],
      }),
      [],
    );
    expect(cause?.kind).toBe('image_pull_failed');
    expect(cause!.summary).toContain('unauthorized: authentication required');
  });

  it('scenario 7: CrashLoopBackOff is crash_loop with exit code and restarts, and logs in evidence', () => {
    const crashing = {
      ready: false,
      waitingReason: 'CrashLoopBackOff',
      lastTerminatedReason: 'Error',
      exitCode: 2,
      restartCount: 9,
    };
    const cause = kubernetesRootCause(
      'api',
      state(
        {
          readyReplicas: 0,
          pods: [pod('api-1', { ready: false }, crashing), pod('api-2', { ready: false }, crashing)],
        },
        { logs: ['panic: boom'] },
      ),
      [],
    );
    expect(cause).toMatchObject({ kind: 'crash_loop', confidence: 0.9 });
    expect(cause!.summary).toContain('2 of 2 pods');
    expect(cause!.summary).toContain('exit code 2');
    expect(cause!.summary).toContain('9 restarts');
    expect(cause!.evidence.some((e) => e.detail.includes('panic: boom'))).toBe(true);
  });

  it('scenario 11: an OOMKilled last state wins over the crash loop it causes and names the memory limit', () => {
    const oom = {
      ready: false,
      waitingReason: 'CrashLoopBackOff',
      lastTerminatedReason: 'OOMKilled',
      exitCode: 137,
      restartCount: 4,
    };
    const cause = kubernetesRootCause(
      'api',
      state({ readyReplicas: 1, pods: [pod('api-1', { ready: false }, oom), pod('api-2')], memoryLimit: '256Mi' }),
      [],
    );
    expect(cause).toMatchObject({ kind: 'oom_killed', confidence: 0.9 });
    expect(cause!.summary).toContain('memory limit 256Mi');
    expect(cause!.summary).toContain('exit 137');
  });

  it('an old OOM kill on a fully ready deployment with passing probes is not a finding', () => {
    const healed = { lastTerminatedReason: 'OOMKilled', exitCode: 137, restartCount: 1 };
    expect(kubernetesRootCause('api', state({ pods: [pod('api-1', {}, healed), pod('api-2')] }), [])).toBeUndefined();
    expect(
      kubernetesRootCause('api', state({ pods: [pod('api-1', {}, healed), pod('api-2')] }), [failedProbe])?.kind,
    ).toBe('oom_killed');
  });

  it('scenario 9: a selector that matches no pod is no_endpoints with selector and labels in evidence', () => {
    const cause = kubernetesRootCause(
      'api',
      state({
        service: { name: 'api', selector: { app: 'api', tier: 'web' }, readyEndpoints: 0, notReadyEndpoints: 0 },
      }),
      [failedProbe],
    );
    expect(cause).toMatchObject({ kind: 'no_endpoints', confidence: 0.9 });
    expect(cause!.summary).toContain('app=api,tier=web');
    expect(cause!.evidence.map((e) => e.detail)).toContain('Service api selector: app=api,tier=web');
    expect(cause!.evidence.some((e) => e.detail === 'pod api-1 labels: app=api,pod-template-hash=abc')).toBe(true);
  });

  it('scenario 9: zero ready endpoints while pods run and are ready is no_endpoints', () => {
    const cause = kubernetesRootCause(
      'api',
      state({ service: { name: 'api', selector: { app: 'api' }, readyEndpoints: 0, notReadyEndpoints: 0 } }),
      [],
    );
    expect(cause?.kind).toBe('no_endpoints');
    expect(cause!.summary).toContain('no ready endpoints');
  });

  it('scenario 9: a configured Service that does not exist is no_endpoints', () => {
    const cause = kubernetesRootCause(
      'api',
      state({ service: { name: 'api', selector: {}, readyEndpoints: 0, notReadyEndpoints: 0, missing: true } }),
      [],
    );
    expect(cause?.kind).toBe('no_endpoints');
    expect(cause!.summary).toContain('does not exist');
  });

  it('scenario 10: a terminating pod with its replacement starting is recreating', () => {
    const cause = kubernetesRootCause(
      'api',
      state({
        readyReplicas: 1,
        availableReplicas: 1,
        pods: [
          pod('api-1', { deleting: true, deletionTimestamp: '2030-01-01T00:00:00.000Z' }),
          pod('api-2'),
          pod('api-3', { phase: 'Pending', ready: false }, { ready: false, waitingReason: 'ContainerCreating' }),
        ],
        service: { name: 'api', selector: { app: 'api' }, readyEndpoints: 1, notReadyEndpoints: 1 },
      }),
      [failedProbe],
    );
    expect(cause).toMatchObject({ kind: 'recreating', confidence: 0.8 });
    expect(cause!.summary).toContain('api-1 is terminating');
    expect(cause!.summary).toContain('api-3 is starting');
  });

  it('scenario 10: with one replica and zero endpoints, recreation still wins over no_endpoints', () => {
    const cause = kubernetesRootCause(
      'api',
      state({
        desiredReplicas: 1,
        readyReplicas: 0,
        availableReplicas: 0,
        pods: [
          pod('api-1', { deleting: true }),
          pod('api-2', { phase: 'Pending', ready: false }, { ready: false, waitingReason: 'ContainerCreating' }),
        ],
        service: { name: 'api', selector: { app: 'api' }, readyEndpoints: 0, notReadyEndpoints: 0 },
      }),
      [],
    );
    expect(cause?.kind).toBe('recreating');
  });

  it('an unschedulable pending pod is not called recreating', () => {
    const cause = kubernetesRootCause(
      'api',
      state({
        readyReplicas: 1,
        pods: [pod('api-1'), pod('api-2', { phase: 'Pending', ready: false, containers: [] })],
        events: [
          {
            type: 'Warning',
            reason: 'FailedScheduling',
            message: '0/3 nodes are available: insufficient memory',
            object: 'pod/api-2',
          },
        ],
      }),
      [],
    );
    expect(cause).toBeUndefined();
  });

  it('a terminating extra pod on an otherwise ready deployment is no finding', () => {
    expect(
      kubernetesRootCause('api', state({ pods: [pod('api-1'), pod('api-2'), pod('api-0', { deleting: true })] }), []),
    ).toBeUndefined();
  });
});

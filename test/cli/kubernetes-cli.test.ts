import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../kubernetes/cluster.js';
import { startBackend, countedService, tempDir } from '../serve/harness.js';
import { configDir, runCli } from '../support/cli.js';

/**
 * The built CLI against the local Kubernetes API server through a kubeconfig file, as a user
 * runs it: a diagnosis sends no mutating request, a Deployment at zero gets a count inferred
 * from the cluster, and an unknown context is a configuration error.
 */
const NS = 'shop';
let cluster: TestCluster;
const files = configDir();
let env: Record<string, string>;

beforeAll(async () => {
  cluster = await startCluster();
  const o = cluster.server.kubeConfigOptions();
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: o.clusters.map((c) => ({
      name: c.name,
      cluster: { server: c.server, 'insecure-skip-tls-verify': true },
    })),
    users: o.users.map((u) => ({ name: u.name, user: { token: u.token } })),
    contexts: o.contexts.map((c) => ({
      name: c.name,
      context: { cluster: c.cluster, user: c.user, namespace: c.namespace },
    })),
    'current-context': o.currentContext,
  };
  env = { KUBECONFIG: files.write('kubeconfig.yml', kubeconfig) };
  cluster.controller.createDeployment({ namespace: NS, name: 'api', replicas: 2, labels: { app: 'api' } });
  cluster.controller.createDeployment({
    namespace: NS,
    name: 'applied',
    replicas: 0,
    labels: { app: 'applied' },
    annotations: {
      'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ kind: 'Deployment', spec: { replicas: 3 } }),
    },
  });
  cluster.controller.createDeployment({ namespace: NS, name: 'bare', replicas: 0, labels: { app: 'bare' } });
  cluster.controller.createDeployment({ namespace: NS, name: 'history', replicas: 0, labels: { app: 'history' } });
  for (const [name, desired, created] of [
    ['history-old', '5', '2025-01-01T00:00:00Z'],
    ['history-new', '4', '2025-02-01T00:00:00Z'],
  ] as const) {
    cluster.server.store.put('apps/replicasets', {
      metadata: {
        name,
        namespace: NS,
        labels: { app: 'history' },
        creationTimestamp: created,
        annotations: { 'deployment.kubernetes.io/desired-replicas': desired },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'history', uid: 'u1' }],
      },
      spec: { replicas: 0, selector: { matchLabels: { app: 'history' } } },
    });
  }
  cluster.controller.createDeployment({ namespace: NS, name: 'scaled', replicas: 0, labels: { app: 'scaled' } });
  cluster.server.store.put('autoscaling/horizontalpodautoscalers', {
    metadata: { name: 'scaled-hpa', namespace: NS },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'scaled' },
      minReplicas: 2,
      maxReplicas: 6,
    },
  });
  await cluster.controller.waitFor(
    () => cluster.server.store.get('apps/deployments', NS, 'api')?.status?.readyReplicas === 2,
    5000,
    'api ready',
  );
});

afterAll(async () => {
  await cluster.stop();
  files.cleanup();
});

const config = (deployment: string, extra: Record<string, unknown> = {}) => ({
  services: { [deployment]: { kubernetes: { namespace: NS, deployment, ...extra } } },
});
const mutating = () =>
  cluster.server.requests.filter((r) => !['get', 'list', 'watch'].includes(r.verb)).map((r) => `${r.method} ${r.path}`);

describe('healbot diagnose against Kubernetes', () => {
  it('changes nothing: zero mutating requests reach the API server', async () => {
    const result = await runCli(['diagnose', 'api', '--config', files.write('api.yml', config('api')), '--json'], {
      env,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json.rootCause.kind).toBe('healthy');
    expect(cluster.server.requests.some((r) => r.resource === 'deployments' && r.verb === 'get')).toBe(true);
    expect(mutating()).toEqual([]);
  });

  it('scaled to zero with no configured replicas: the count comes from the last-applied-configuration annotation, as a risky step naming it', async () => {
    const result = await runCli(
      ['diagnose', 'applied', '--config', files.write('applied.yml', config('applied')), '--json'],
      { env },
    );
    expect(result.json.rootCause.kind).toBe('scaled_to_zero');
    expect(result.json.plan).toEqual([
      expect.objectContaining({
        action: 'scale',
        risk: 'risky',
        params: { replicas: 3 },
        reason: expect.stringContaining('(from the kubectl.kubernetes.io/last-applied-configuration annotation)'),
      }),
    ]);
    expect(mutating()).toEqual([]);
  });

  it('scaled to zero: the newest ReplicaSet remembers the count', async () => {
    const result = await runCli(
      ['diagnose', 'history', '--config', files.write('history.yml', config('history')), '--json'],
      { env },
    );
    expect(result.json.plan).toEqual([
      expect.objectContaining({
        action: 'scale',
        risk: 'risky',
        params: { replicas: 4 },
        reason: expect.stringContaining(
          '(from the deployment.kubernetes.io/desired-replicas annotation of ReplicaSet history-new)',
        ),
      }),
    ]);
  });

  it("scaled to zero: an HPA's minReplicas is the count when nothing else remembers one", async () => {
    const result = await runCli(
      ['diagnose', 'scaled', '--config', files.write('scaled.yml', config('scaled')), '--json'],
      { env },
    );
    expect(result.json.plan).toEqual([
      expect.objectContaining({
        action: 'scale',
        risk: 'risky',
        params: { replicas: 2 },
        reason: expect.stringContaining('(from the minReplicas of HorizontalPodAutoscaler scaled-hpa)'),
      }),
    ]);
    expect(mutating()).toEqual([]);
  });

  it('scaled to zero with no record anywhere: scale to 1 so the service runs again, saying why', async () => {
    const result = await runCli(['diagnose', 'bare', '--config', files.write('bare.yml', config('bare')), '--json'], {
      env,
    });
    expect(result.json.plan).toEqual([
      expect.objectContaining({
        action: 'scale',
        risk: 'risky',
        params: { replicas: 1 },
        reason: expect.stringContaining('no earlier count is recorded anywhere: 1, so that the service runs again'),
      }),
    ]);
  });

  it('an unknown kubeconfig context is a configuration error naming the service and the known contexts', async () => {
    const result = await runCli(
      ['diagnose', 'api', '--config', files.write('ctx.yml', config('api', { context: 'prod-eu' })), '--json'],
      { env },
    );
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      'healbot: services.api.kubernetes.context: kubeconfig has no context "prod-eu"; known contexts: test',
    ]);
  });
});

describe('rules that hold whatever the configuration says', () => {
  it('a 4xx answer never leads to a restart, even with confidenceThreshold 0.5', async () => {
    const dir = tempDir();
    const backend = await startBackend();
    backend.status = 404;
    const service = countedService(dir.path, 'web');
    try {
      const running = { ...service.config.command, status: [process.execPath, '-e', 'process.exit(0)'] };
      const raw = {
        healing: { confidenceThreshold: 0.5, verifyTimeout: '2s' },
        services: { web: { command: running, probes: [{ name: 'internal', http: backend.url }] } },
      };
      const result = await runCli(['heal', 'web', '--config', files.write('4xx.yml', raw), '--yes', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.json.rootCause).toMatchObject({ kind: 'service_unhealthy', confidence: 0.5 });
      expect(result.json.plan.every((s: { risk: string }) => s.risk === 'manual')).toBe(true);
      expect(result.json.actions).toEqual([]);
      expect(service.runs()).toBe(0);
    } finally {
      await backend.close();
      dir.cleanup();
    }
  });

  it('the schema rejects a confidenceThreshold below 0.5', async () => {
    const result = await runCli([
      'check',
      '--config',
      files.write('low.yml', {
        healing: { confidenceThreshold: 0.3 },
        services: { web: { probes: [{ name: 'p', tcp: '127.0.0.1:1' }] } },
      }),
    ]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(
      'healing.confidenceThreshold: must be at least 0.5: below that healbot would act on guesses',
    );
  });
});

/** The fake API server behaves like the real one where healbot depends on it, checked with the real client. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import { FakeApiServer, parseApiPath } from './api-server.js';
import { DeploymentController } from './controller.js';

let server: FakeApiServer;
let controller: DeploymentController;
let apps: AppsV1Api;
let core: CoreV1Api;
let kubeConfig: KubeConfig;

beforeEach(async () => {
  server = new FakeApiServer();
  await server.start();
  controller = new DeploymentController(server).start();
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions(server.kubeConfigOptions());
  apps = kubeConfig.makeApiClient(AppsV1Api);
  core = kubeConfig.makeApiClient(CoreV1Api);
  controller.createDeployment({ namespace: 'ns', name: 'web', replicas: 1, labels: { app: 'web' } });
});

afterEach(async () => {
  controller.stop();
  await server.stop();
});

const statusBody = (error: unknown) =>
  JSON.parse((error as { body: string }).body) as {
    kind: string;
    status: string;
    reason: string;
    code: number;
    message: string;
  };

describe('FakeApiServer', () => {
  it('maps requests to authorization verbs like Kubernetes', () => {
    expect(parseApiPath('GET', '/api/v1/namespaces/a/pods', {})).toMatchObject({
      verb: 'list',
      resource: 'pods',
      apiGroup: '',
      namespace: 'a',
    });
    expect(parseApiPath('GET', '/api/v1/namespaces/a/pods', { watch: '1' })?.verb).toBe('watch');
    expect(parseApiPath('GET', '/api/v1/namespaces/a/pods/p/log', {})).toMatchObject({
      verb: 'get',
      resource: 'pods',
      subresource: 'log',
      name: 'p',
    });
    expect(parseApiPath('PUT', '/apis/apps/v1/namespaces/a/deployments/d/scale', {})).toMatchObject({
      verb: 'update',
      apiGroup: 'apps',
      subresource: 'scale',
    });
    expect(parseApiPath('DELETE', '/api/v1/namespaces/a/pods', {})?.verb).toBe('deletecollection');
  });

  it('lists by label selector and answers 404 with a NotFound Status', async () => {
    controller.createDeployment({ namespace: 'ns', name: 'db', replicas: 1, labels: { app: 'db' } });
    await controller.waitFor(() => server.store.list('/pods', 'ns').length === 2);
    const pods = await core.listNamespacedPod({ namespace: 'ns', labelSelector: 'app=web' });
    expect(pods.items.map((p) => p.metadata?.labels?.app)).toEqual(['web']);
    const error = await apps.readNamespacedDeployment({ name: 'nope', namespace: 'ns' }).catch((e: unknown) => e);
    expect((error as { code: number }).code).toBe(404);
    expect(statusBody(error)).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
      message: 'deployments.apps "nope" not found',
    });
  });

  it('rejects an update with a stale resourceVersion with 409 Conflict', async () => {
    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: 'ns' });
    await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'ns', body: { metadata: { labels: { x: 'y' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const error = await apps
      .replaceNamespacedDeployment({ name: 'web', namespace: 'ns', body: d })
      .catch((e: unknown) => e);
    expect(statusBody(error)).toMatchObject({ reason: 'Conflict', code: 409 });
  });

  it('applies merge, strategic merge and JSON patches with their own semantics', async () => {
    const containers = [{ name: 'sidecar', image: 'proxy:1' }];
    // Merge patch replaces lists...
    let d = await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'ns', body: { spec: { template: { spec: { containers } } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(d.spec?.template.spec?.containers.map((c) => c.name)).toEqual(['sidecar']);
    // ...strategic merge merges containers by name...
    d = await apps.patchNamespacedDeployment(
      {
        name: 'web',
        namespace: 'ns',
        body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'app:2' }] } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(d.spec?.template.spec?.containers.map((c) => `${c.name}=${c.image}`)).toEqual([
      'sidecar=proxy:1',
      'app=app:2',
    ]);
    // ...and a JSON patch (the client's default content type) takes operations.
    d = await apps.patchNamespacedDeployment({
      name: 'web',
      namespace: 'ns',
      body: [
        { op: 'replace', path: '/spec/replicas', value: 2 },
        { op: 'add', path: '/metadata/labels/tier', value: 'front' },
      ],
    });
    expect(d.spec?.replicas).toBe(2);
    expect(d.metadata?.labels?.tier).toBe('front');
    expect(server.requests.filter((r) => r.verb === 'patch').map((r) => r.contentType)).toEqual([
      PatchStrategy.MergePatch,
      PatchStrategy.StrategicMergePatch,
      PatchStrategy.JsonPatch,
    ]);
  });

  it('answers 415 to a patch content type it does not know', async () => {
    const error = await apps
      .patchNamespacedDeployment(
        { name: 'web', namespace: 'ns', body: { spec: {} } },
        setHeaderOptions('Content-Type', 'application/json'),
      )
      .catch((e: unknown) => e);
    expect(statusBody(error)).toMatchObject({ reason: 'UnsupportedMediaType', code: 415 });
  });

  it('bumps generation on spec changes only, and the controller catches observedGeneration up', async () => {
    await controller.waitFor(() => server.store.get('apps/deployments', 'ns', 'web')?.status?.readyReplicas === 1);
    const before = server.store.get('apps/deployments', 'ns', 'web')!;
    await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'ns', body: { metadata: { annotations: { a: 'b' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(server.store.get('apps/deployments', 'ns', 'web')!.metadata.generation).toBe(before.metadata.generation);
    await apps.patchNamespacedDeploymentScale(
      { name: 'web', namespace: 'ns', body: { spec: { replicas: 2 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const after = server.store.get('apps/deployments', 'ns', 'web')!;
    expect(after.metadata.generation).toBe(before.metadata.generation + 1);
    await controller.waitFor(() => server.store.get('apps/deployments', 'ns', 'web')?.status?.readyReplicas === 2);
    expect(server.store.get('apps/deployments', 'ns', 'web')!.status.observedGeneration).toBe(
      after.metadata.generation,
    );
  });

  it('streams watch events as newline-delimited JSON and resumes from a resourceVersion', async () => {
    const seen: string[] = [];
    const watch = new Watch(kubeConfig);
    const abort = await watch.watch(
      '/apis/apps/v1/namespaces/ns/deployments',
      { fieldSelector: 'metadata.name=web' },
      (type, obj) => seen.push(`${type} ${obj.metadata.name}`),
      () => undefined,
    );
    await controller.waitFor(() => seen.length >= 1);
    const rv = server.store.get('apps/deployments', 'ns', 'web')!.metadata.resourceVersion;
    await apps.patchNamespacedDeploymentScale(
      { name: 'web', namespace: 'ns', body: { spec: { replicas: 3 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await controller.waitFor(() => seen.includes('MODIFIED web'));
    abort.abort();
    expect(seen[0]).toBe('ADDED web');
    // The controller may write status between `rv` and the patch: a resumed watch replays only what came after `rv`.
    const replayed: { replicas: number; resourceVersion: number }[] = [];
    const again = await watch.watch(
      '/apis/apps/v1/namespaces/ns/deployments',
      { resourceVersion: rv },
      (_type, obj) =>
        replayed.push({ replicas: obj.spec.replicas, resourceVersion: Number(obj.metadata.resourceVersion) }),
      () => undefined,
    );
    await controller.waitFor(() => replayed.some((r) => r.replicas === 3));
    again.abort();
    expect(replayed.length).toBeGreaterThan(0);
    expect(replayed.every((r) => r.resourceVersion > Number(rv))).toBe(true);
  });

  it('refuses with a Forbidden Status when the authorizer says no', async () => {
    server.authorize = (r) => r.resource !== 'events';
    const error = await core.listNamespacedEvent({ namespace: 'ns' }).catch((e: unknown) => e);
    expect(statusBody(error)).toMatchObject({ reason: 'Forbidden', code: 403 });
    expect(statusBody(error).message).toContain('cannot list resource "events"');
  });

  it('keeps Endpoints in sync with ready pods', async () => {
    controller.createService('ns', 'web', { app: 'web' });
    await controller.waitFor(
      () => (server.store.get('/endpoints', 'ns', 'web')?.subsets?.[0]?.addresses?.length ?? 0) === 1,
    );
    controller.setFault('ns', 'web', { kind: 'not_ready' });
    await controller.waitFor(
      () => (server.store.get('/endpoints', 'ns', 'web')?.subsets?.[0]?.notReadyAddresses?.length ?? 0) === 1,
    );
    const endpoints = await core.readNamespacedEndpoints({ name: 'web', namespace: 'ns' });
    expect(endpoints.subsets?.[0].addresses).toBeUndefined();
  });
});

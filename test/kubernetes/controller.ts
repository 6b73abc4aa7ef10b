/**
 * Plays kube-controller-manager and the kubelet against the fake API server's store:
 * reconciles Deployments into pods, keeps Deployment status and Endpoints in sync, records
 * Events, and can put a Deployment's pods into each failure scenario's state.
 */
import { createHash, randomBytes } from 'node:crypto';
import { matchesLabelSelector, type FakeApiServer, type KubeObject } from './api-server.js';

/** A failure the fake kubelet applies to every pod of a Deployment. */
/** `image`: the fault hits only containers running that image (a bad release), else every pod. */
export type PodFault = (
  | { kind: 'crash_loop'; exitCode?: number; restarts?: number; logs?: string[] }
  | { kind: 'image_pull'; reason?: 'ImagePullBackOff' | 'ErrImagePull'; message?: string }
  | { kind: 'oom_killed'; restarts?: number }
  | { kind: 'not_ready' }
  | { kind: 'pending' }
  | { kind: 'config_error'; message: string }
) & { image?: string };

export interface DeploymentSpec {
  namespace: string;
  name: string;
  replicas: number;
  /** The Deployment's selector and pod template labels. */
  labels: Record<string, string>;
  image?: string;
  container?: string;
  memoryLimit?: string;
  annotations?: Record<string, string>;
}

const DEPLOYMENTS = 'apps/deployments';
const REPLICASETS = 'apps/replicasets';
/** The annotation the deployment controller numbers ReplicaSets (revisions) with. */
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';

/** JSON with sorted keys, so a template sent back by a client hashes the same as the original. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .filter((k) => (value as KubeObject)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as KubeObject)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
const PODS = '/pods';

function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export class DeploymentController {
  private readonly faults = new Map<string, PodFault>();
  private readonly holds = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private scheduled = false;
  private stopped = false;
  private ipCounter = 10;
  private readonly onChange = (resource: string) => {
    if (resource !== '/events' && resource !== '/endpoints') this.schedule();
  };

  /** `startMs`: how long a new pod stays ContainerCreating before the kubelet starts it. */
  constructor(
    private readonly server: FakeApiServer,
    private readonly options: { startMs?: number } = {},
  ) {}

  start(): this {
    this.server.store.on('change', this.onChange);
    this.schedule();
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.server.store.off('change', this.onChange);
    for (const timer of this.timers) clearTimeout(timer);
  }

  createDeployment(spec: DeploymentSpec): KubeObject {
    const container = spec.container ?? 'app';
    return this.server.store.put(DEPLOYMENTS, {
      metadata: {
        name: spec.name,
        namespace: spec.namespace,
        labels: spec.labels,
        annotations: spec.annotations ?? {},
      },
      spec: {
        replicas: spec.replicas,
        selector: { matchLabels: spec.labels },
        template: {
          metadata: { labels: spec.labels },
          spec: {
            containers: [
              {
                name: container,
                image: spec.image ?? 'registry.example/shop/api:1.0',
                resources: spec.memoryLimit ? { limits: { memory: spec.memoryLimit } } : {},
              },
            ],
          },
        },
      },
      status: {},
    });
  }

  createService(namespace: string, name: string, selector: Record<string, string>): KubeObject {
    return this.server.store.put('/services', {
      metadata: { name, namespace },
      spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 8000, protocol: 'TCP' }] },
    });
  }

  /** Applies a fault to every current and future pod of the Deployment; undefined heals them. */
  setFault(namespace: string, deployment: string, fault: PodFault | undefined): void {
    const key = `${namespace}/${deployment}`;
    if (fault) this.faults.set(key, fault);
    else this.faults.delete(key);
    const d = this.server.store.get(DEPLOYMENTS, namespace, deployment);
    if (!d) return;
    for (const pod of this.podsOf(d)) if (!pod.metadata.deletionTimestamp) this.runKubelet(pod, d);
  }

  /**
   * Scenario 10: deletes one pod and holds it Terminating, while its replacement stays
   * ContainerCreating, until `finishRecreation`.
   */
  beginRecreation(namespace: string, deployment: string): string {
    const key = `${namespace}/${deployment}`;
    this.holds.add(key);
    const d = this.server.store.get(DEPLOYMENTS, namespace, deployment);
    const victim = d && this.podsOf(d).find((p) => !p.metadata.deletionTimestamp);
    if (!victim) throw new Error(`no pod of ${key} to delete`);
    victim.metadata.deletionTimestamp = new Date().toISOString();
    this.server.store.put(PODS, victim);
    this.event(
      namespace,
      { kind: 'Pod', name: victim.metadata.name },
      'Normal',
      'Killing',
      `Stopping container ${victim.spec.containers[0].name}`,
    );
    return victim.metadata.name as string;
  }

  finishRecreation(namespace: string, deployment: string): void {
    const key = `${namespace}/${deployment}`;
    this.holds.delete(key);
    const d = this.server.store.get(DEPLOYMENTS, namespace, deployment);
    if (!d) return;
    for (const pod of this.podsOf(d)) {
      if (pod.metadata.deletionTimestamp) this.server.store.remove(PODS, namespace, pod.metadata.name);
      else if (!pod.status?.containerStatuses?.[0]?.state?.running) this.runKubelet(pod, d);
    }
  }

  /** Polls the store until `predicate` holds; for tests, which may not sleep blindly. */
  async waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  podsOf(deployment: KubeObject): KubeObject[] {
    const selector = selectorString(deployment.spec?.selector?.matchLabels ?? {});
    return this.server.store
      .list(PODS, deployment.metadata.namespace)
      .filter((p) => matchesLabelSelector(p.metadata.labels, selector))
      .sort(
        (a, b) =>
          String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) ||
          String(a.metadata.name).localeCompare(String(b.metadata.name)),
      );
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.stopped) this.reconcile();
    });
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) run();
    }, ms);
    this.timers.add(timer);
  }

  private reconcile(): void {
    for (const d of this.server.store.list(DEPLOYMENTS)) this.reconcileDeployment(d);
    for (const s of this.server.store.list('/services')) this.syncEndpoints(s);
  }

  private reconcileDeployment(d: KubeObject): void {
    const namespace: string = d.metadata.namespace;
    const key = `${namespace}/${d.metadata.name}`;
    const hash = createHash('sha256').update(canonical(d.spec.template)).digest('hex').slice(0, 10);
    const desired: number = d.spec.replicas ?? 1;
    const live = this.podsOf(d).filter((p) => !p.metadata.deletionTimestamp);
    const current = live.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash);
    const old = live.filter((p) => p.metadata.labels?.['pod-template-hash'] !== hash);
    const rsName = `${d.metadata.name}-${hash}`;

    // Worded as the deployment controller words it since Kubernetes 1.26: "… to N from M".
    if (current.length < desired) {
      const from = current.length;
      for (let i = current.length; i < desired; i++) this.createPod(d, hash);
      this.event(
        namespace,
        { kind: 'Deployment', name: d.metadata.name },
        'Normal',
        'ScalingReplicaSet',
        `Scaled up replica set ${rsName} to ${desired} from ${from}`,
      );
    } else if (current.length > desired) {
      const from = current.length;
      for (const pod of current.slice(desired)) this.terminate(pod, key);
      this.event(
        namespace,
        { kind: 'Deployment', name: d.metadata.name },
        'Normal',
        'ScalingReplicaSet',
        `Scaled down replica set ${rsName} to ${desired} from ${from}`,
      );
    }
    const currentReady = current.filter(isReady).length;
    if (old.length > 0 && (currentReady >= desired || desired === 0)) {
      for (const pod of old) this.terminate(pod, key);
    }

    const pods = this.podsOf(d).filter((p) => !p.metadata.deletionTimestamp);
    const updated = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash);
    const ready = pods.filter(isReady).length;
    const status = {
      observedGeneration: d.metadata.generation,
      replicas: pods.length,
      updatedReplicas: updated.length,
      readyReplicas: ready,
      availableReplicas: ready,
      unavailableReplicas: Math.max(0, desired - ready),
      conditions: [
        {
          type: 'Available',
          status: ready >= desired ? 'True' : 'False',
          reason: ready >= desired ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        },
        {
          type: 'Progressing',
          status: 'True',
          reason: updated.length === desired && ready === desired ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
        },
      ],
    };
    const fresh = this.server.store.get(DEPLOYMENTS, namespace, d.metadata.name);
    if (fresh && JSON.stringify(fresh.status) !== JSON.stringify(status)) {
      fresh.status = status;
      this.server.store.put(DEPLOYMENTS, fresh);
    }
    this.syncReplicaSets(d, hash, desired, pods);
  }

  /**
   * One ReplicaSet per pod template, numbered by revision as the deployment controller does:
   * a new template gets the next revision, and going back to an old template (an undo)
   * renumbers its ReplicaSet to the next revision.
   */
  private syncReplicaSets(d: KubeObject, hash: string, desired: number, pods: KubeObject[]): void {
    const namespace: string = d.metadata.namespace;
    const owned = this.server.store
      .list(REPLICASETS, namespace)
      .filter((rs) => rs.metadata.ownerReferences?.some((o: KubeObject) => o.uid === d.metadata.uid));
    const revisionOf = (rs: KubeObject) => Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0);
    const latest = Math.max(0, ...owned.map(revisionOf));
    const name = `${d.metadata.name}-${hash}`;
    const current = owned.find((rs) => rs.metadata.name === name);
    const template = structuredClone(d.spec.template);
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, 'pod-template-hash': hash } };
    const sets = current
      ? owned
      : [
          ...owned,
          {
            metadata: {
              name,
              namespace,
              labels: template.metadata.labels,
              annotations: {},
              ownerReferences: [
                {
                  apiVersion: 'apps/v1',
                  kind: 'Deployment',
                  name: d.metadata.name,
                  uid: d.metadata.uid,
                  controller: true,
                },
              ],
            },
            spec: {
              selector: { matchLabels: { ...d.spec.selector?.matchLabels, 'pod-template-hash': hash } },
              template,
            },
          },
        ];
    for (const rs of sets) {
      const next = structuredClone(rs);
      const rsHash = rs.metadata.labels?.['pod-template-hash'];
      const mine = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === rsHash);
      const ready = mine.filter(isReady).length;
      const isCurrent = rs.metadata.name === name;
      next.spec.replicas = isCurrent ? desired : mine.length;
      next.status = { replicas: mine.length, readyReplicas: ready, availableReplicas: ready };
      if (isCurrent && (revisionOf(rs) === 0 || revisionOf(rs) < latest))
        next.metadata.annotations = { ...next.metadata.annotations, [REVISION_ANNOTATION]: String(latest + 1) };
      if (canonical(next) !== canonical(rs)) this.server.store.put(REPLICASETS, next);
    }
  }

  private createPod(d: KubeObject, hash: string): void {
    const template = d.spec.template;
    const name = `${d.metadata.name}-${hash.slice(0, 8)}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const pod = this.server.store.put(PODS, {
      metadata: {
        name,
        namespace: d.metadata.namespace,
        labels: { ...template.metadata?.labels, 'pod-template-hash': hash },
        annotations: { ...template.metadata?.annotations },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: `${d.metadata.name}-${hash}`,
            controller: true,
            uid: d.metadata.uid,
          },
        ],
      },
      spec: structuredClone(template.spec),
      status: {
        phase: 'Pending',
        conditions: [{ type: 'Ready', status: 'False' }],
        containerStatuses: (template.spec.containers as KubeObject[]).map((c) => ({
          name: c.name,
          image: c.image,
          ready: false,
          restartCount: 0,
          started: false,
          state: { waiting: { reason: 'ContainerCreating' } },
        })),
      },
    });
    this.event(
      d.metadata.namespace,
      { kind: 'Pod', name },
      'Normal',
      'Scheduled',
      `Successfully assigned ${d.metadata.namespace}/${name} to node-1`,
    );
    const key = `${d.metadata.namespace}/${d.metadata.name}`;
    if (!this.holds.has(key)) this.later(this.options.startMs ?? 20, () => this.runKubelet(pod, d));
  }

  private terminate(pod: KubeObject, deploymentKey: string): void {
    const fresh = this.server.store.get(PODS, pod.metadata.namespace, pod.metadata.name);
    if (!fresh || fresh.metadata.deletionTimestamp) return;
    fresh.metadata.deletionTimestamp = new Date().toISOString();
    this.server.store.put(PODS, fresh);
    this.event(
      pod.metadata.namespace,
      { kind: 'Pod', name: pod.metadata.name },
      'Normal',
      'Killing',
      `Stopping container ${pod.spec.containers[0].name}`,
    );
    if (!this.holds.has(deploymentKey))
      this.later(this.server.podTerminationMs, () =>
        this.server.store.remove(PODS, pod.metadata.namespace, pod.metadata.name),
      );
  }

  /** What the kubelet would report for this pod under the Deployment's current fault. */
  private runKubelet(pod: KubeObject, d: KubeObject): void {
    const fresh = this.server.store.get(PODS, pod.metadata.namespace, pod.metadata.name);
    if (!fresh || fresh.metadata.deletionTimestamp) return;
    const namespace: string = fresh.metadata.namespace;
    const name: string = fresh.metadata.name;
    const containers = fresh.spec.containers as KubeObject[];
    const set = this.faults.get(`${namespace}/${d.metadata.name}`);
    const fault = set && (!set.image || containers.some((c) => c.image === set.image)) ? set : undefined;
    const now = new Date().toISOString();
    fresh.status.podIP = fresh.status.podIP ?? `127.0.0.${this.ipCounter++ % 250}`;
    const running = { running: { startedAt: now } };
    let phase = 'Running';
    let ready = true;
    fresh.status.containerStatuses = containers.map((c) => {
      const base = {
        name: c.name,
        image: c.image,
        imageID: '',
        restartCount: 0,
        started: true,
        ready: true,
        state: running as KubeObject,
        lastState: {} as KubeObject,
      };
      switch (fault?.kind) {
        case 'crash_loop': {
          const exitCode = fault.exitCode ?? 1;
          this.server.setLogs(
            namespace,
            name,
            c.name,
            fault.logs ?? ['starting api', `fatal: cannot connect to database password=hunter2`],
            true,
          );
          this.server.setLogs(namespace, name, c.name, []);
          this.event(
            namespace,
            { kind: 'Pod', name },
            'Warning',
            'BackOff',
            `Back-off restarting failed container ${c.name} in pod ${name}_${namespace}(${fresh.metadata.uid})`,
          );
          ready = false;
          return {
            ...base,
            ready: false,
            started: false,
            restartCount: fault.restarts ?? 5,
            state: {
              waiting: {
                reason: 'CrashLoopBackOff',
                message: `back-off 5m0s restarting failed container=${c.name} pod=${name}_${namespace}(${fresh.metadata.uid})`,
              },
            },
            lastState: { terminated: { exitCode, reason: 'Error', startedAt: now, finishedAt: now } },
          };
        }
        case 'oom_killed':
          this.server.setLogs(namespace, name, c.name, ['loading catalogue into memory'], true);
          this.event(
            namespace,
            { kind: 'Pod', name },
            'Warning',
            'BackOff',
            `Back-off restarting failed container ${c.name} in pod ${name}_${namespace}(${fresh.metadata.uid})`,
          );
          ready = false;
          return {
            ...base,
            ready: false,
            started: false,
            restartCount: fault.restarts ?? 3,
            state: {
              waiting: { reason: 'CrashLoopBackOff', message: `back-off 40s restarting failed container=${c.name}` },
            },
            lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: now, finishedAt: now } },
          };
        case 'image_pull': {
          const reason = fault.reason ?? 'ImagePullBackOff';
          const message = fault.message ?? `Back-off pulling image "${c.image}"`;
          this.event(
            namespace,
            { kind: 'Pod', name },
            'Warning',
            'Failed',
            `Failed to pull image "${c.image}": rpc error: code = NotFound desc = failed to pull and unpack image "${c.image}": not found`,
          );
          phase = 'Pending';
          ready = false;
          return { ...base, ready: false, started: false, state: { waiting: { reason, message } } };
        }
        case 'not_ready':
          this.event(
            namespace,
            { kind: 'Pod', name },
            'Warning',
            'Unhealthy',
            'Readiness probe failed: HTTP probe failed with statuscode: 503',
          );
          ready = false;
          return { ...base, ready: false };
        case 'config_error':
          this.event(namespace, { kind: 'Pod', name }, 'Warning', 'Failed', `Error: ${fault.message}`);
          phase = 'Pending';
          ready = false;
          return {
            ...base,
            ready: false,
            started: false,
            state: { waiting: { reason: 'CreateContainerConfigError', message: fault.message } },
          };
        case 'pending':
          phase = 'Pending';
          ready = false;
          return { ...base, ready: false, started: false, state: { waiting: { reason: 'ContainerCreating' } } };
        default:
          this.server.setLogs(namespace, name, c.name, ['listening on :8000']);
          return base;
      }
    });
    fresh.status.phase = phase;
    fresh.status.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False' }];
    this.server.store.put(PODS, fresh);
  }

  private syncEndpoints(service: KubeObject): void {
    const selector = service.spec?.selector;
    if (!selector) return;
    const namespace: string = service.metadata.namespace;
    const pods = this.server.store
      .list(PODS, namespace)
      .filter(
        (p) =>
          matchesLabelSelector(p.metadata.labels, selectorString(selector)) &&
          !p.metadata.deletionTimestamp &&
          p.status?.podIP,
      );
    const address = (p: KubeObject) => ({
      ip: p.status.podIP,
      targetRef: { kind: 'Pod', name: p.metadata.name, namespace },
    });
    const addresses = pods.filter(isReady).map(address);
    const notReadyAddresses = pods.filter((p) => !isReady(p)).map(address);
    const ports =
      (service.spec.ports as KubeObject[] | undefined)?.map((p) => ({
        name: p.name,
        port: p.targetPort,
        protocol: p.protocol,
      })) ?? [];
    const subsets =
      addresses.length + notReadyAddresses.length === 0
        ? []
        : [
            {
              ...(addresses.length ? { addresses } : {}),
              ...(notReadyAddresses.length ? { notReadyAddresses } : {}),
              ports,
            },
          ];
    const existing = this.server.store.get('/endpoints', namespace, service.metadata.name);
    if (existing && JSON.stringify(existing.subsets ?? []) === JSON.stringify(subsets)) return;
    this.server.store.put('/endpoints', {
      metadata: { name: service.metadata.name, namespace, labels: service.metadata.labels },
      subsets,
    });
  }

  private event(
    namespace: string,
    involved: { kind: string; name: string },
    type: string,
    reason: string,
    message: string,
  ): void {
    const now = new Date().toISOString();
    this.server.store.put('/events', {
      metadata: { name: `${involved.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: { kind: involved.kind, name: involved.name, namespace },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: involved.kind === 'Pod' ? 'kubelet' : 'deployment-controller' },
    });
  }
}

function isReady(pod: KubeObject): boolean {
  return (
    (pod.status?.conditions as KubeObject[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True') ??
    false
  );
}

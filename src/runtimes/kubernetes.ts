/**
 * The Kubernetes runtime: one service is one Deployment (and optionally its Service) in one
 * namespace of one cluster context. Reads through @kubernetes/client-node 1.x and acts through
 * the scale subresource, a pod-template annotation (rollout restart) and pod deletion.
 */
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type {
  V1Deployment,
  V1LabelSelector,
  V1Pod,
  V1ContainerStatus,
  V1ReplicaSet,
  V2HorizontalPodAutoscaler,
  CoreV1Event,
} from '@kubernetes/client-node';
import type { ServiceConfig } from '../config/schema.js';
import type {
  KubernetesContainerState,
  KubernetesPodState,
  KubernetesRevision,
  KubernetesState,
  RuntimeState,
} from '../engine/types.js';
import { DeadlineExceeded, withDeadline } from '../deadline.js';
import { ConfigError, RuntimeError, describeError } from '../errors.js';
import { redactLines, type Redactor } from '../redact.js';
import { scaledToZeroOnPurpose } from './kubernetes-intent.js';
import type { Runtime, RuntimeAction } from './runtime.js';

export type KubernetesRuntimeConfig = NonNullable<ServiceConfig['kubernetes']>;

/** The annotation healbot keeps on a Deployment with its last non-zero replica count. */
export const LAST_REPLICAS_ANNOTATION = 'healbot.dev/last-replicas';
/** The annotation `kubectl apply` keeps with the last applied object. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
/** The annotation the deployment controller numbers a Deployment's ReplicaSets (revisions) with. */
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
/** The pod-template annotation `kubectl rollout restart` sets. */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

/** Defaults for the Kubernetes runtime. */
export const KUBERNETES_DEFAULTS = {
  /** @defaultValue 60 s to wait for a rollout after an action. */
  rolloutTimeoutMs: 60_000,
  /** @defaultValue 20 log lines of the failing container. */
  logLines: 20,
  /** @defaultValue the 10 most recent events. */
  events: 10,
  /** @defaultValue 30 s for one API request to answer (never longer than healing.actionTimeout). */
  requestTimeoutMs: 30_000,
} as const satisfies Record<string, number>;

/** One API call as Kubernetes authorization sees it, used to phrase errors. */
export interface KubernetesCall {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
  /** Plural resource, with `/subresource` when there is one, e.g. `deployments/scale`. */
  resource: string;
  namespace: string;
  name?: string;
}

/** A Kubernetes API call failed; `status` is the HTTP status when the API answered. */
export class KubernetesApiError extends RuntimeError {
  readonly status: number | undefined;
  readonly call: KubernetesCall;
  constructor(message: string, call: KubernetesCall, status: number | undefined, cause: unknown) {
    super(message, { cause });
    this.status = status;
    this.call = call;
  }
}

/** The message for a 403: names the verb and resource the Role is missing. */
export function forbiddenMessage(call: KubernetesCall): string {
  return `forbidden: healbot cannot "${call.verb}" "${call.resource}" in namespace "${call.namespace}" — add it to the Role`;
}

/** The HTTP status of a client-node error (ApiException's `code`, Watch's `statusCode`). */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof KubernetesApiError) return error.status;
  if (error && typeof error === 'object') {
    const e = error as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === 'number') return e.code;
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
}

/** The `message` of a Kubernetes Status body, when the error carries one. */
function statusMessage(error: unknown): string | undefined {
  const body = (error as { body?: unknown } | undefined)?.body;
  try {
    const parsed =
      typeof body === 'string'
        ? (JSON.parse(body) as { message?: unknown })
        : (body as { message?: unknown } | undefined);
    return typeof parsed?.message === 'string' ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}

/** Turns any client-node failure into a KubernetesApiError with a message a person can act on. */
export function toKubernetesError(error: unknown, call: KubernetesCall): KubernetesApiError {
  if (error instanceof KubernetesApiError) return error;
  if (error instanceof DeadlineExceeded) {
    return new KubernetesApiError(
      `${error.message} (${call.verb} ${call.resource}${call.name ? ` "${call.name}"` : ''} in namespace "${call.namespace}")`,
      call,
      undefined,
      error,
    );
  }
  const status = statusOf(error);
  const what = `${call.verb} ${call.resource}${call.name ? ` "${call.name}"` : ''} in namespace "${call.namespace}"`;
  let message: string;
  if (status === 403) message = forbiddenMessage(call);
  else if (status === 401)
    message = `unauthorized: the Kubernetes API rejected healbot's credentials (${what}); check the kubeconfig user or service account token`;
  else if (status === 404) message = `not found: ${statusMessage(error) ?? what}`;
  else if (status !== undefined)
    message = `Kubernetes API answered ${status} to ${what}: ${statusMessage(error) ?? describeError(error)}`;
  else message = `cannot reach the Kubernetes API to ${what}: ${describeError(error)}`;
  return new KubernetesApiError(message, call, status, error);
}

type RequestOptions = NonNullable<Parameters<typeof setHeaderOptions>[2]>;

/** Client options that abort the request with `signal`, so a silent API server cannot hold a call forever. */
export function abortWith(signal: AbortSignal): RequestOptions {
  // client-node's middleware returns its own minimal Observable: anything with toPromise().
  const observable = <T>(value: T) => ({ toPromise: () => Promise.resolve(value) });
  const middleware = {
    pre: (context: { setSignal(signal: AbortSignal): void }) => (context.setSignal(signal), observable(context)),
    post: observable,
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' } as unknown as RequestOptions;
}

/** One Kubernetes API request under a deadline; a silent server ends as "Kubernetes API did not answer within 30 s". */
export function kubernetesRequest<T>(
  call: KubernetesCall,
  timeoutMs: number,
  run: (options: RequestOptions) => Promise<T>,
): Promise<T> {
  return withDeadline('Kubernetes API', timeoutMs, (signal) => run(abortWith(signal))).catch((error: unknown) => {
    throw toKubernetesError(error, call);
  });
}

/** Loads in-cluster config or KUBECONFIG, switching to `context` when one is named. */
export function loadKubeConfig(context?: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  if (context) {
    if (!kubeConfig.getContextObject(context)) {
      throw new ConfigError([
        {
          path: 'context',
          message: `kubeconfig has no context "${context}"; known contexts: ${
            kubeConfig
              .getContexts()
              .map((c) => c.name)
              .join(', ') || '(none)'
          }`,
        },
      ]);
    }
    kubeConfig.setCurrentContext(context);
  }
  return kubeConfig;
}

/** Renders a LabelSelector as the `labelSelector` query string. */
export function selectorToString(selector: V1LabelSelector | undefined): string {
  const terms = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    if (e.operator === 'In') terms.push(`${e.key} in (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'NotIn') terms.push(`${e.key} notin (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'Exists') terms.push(e.key);
    else if (e.operator === 'DoesNotExist') terms.push(`!${e.key}`);
  }
  return terms.join(',');
}

/** Parses a Kubernetes quantity (`512Mi`, `1G`, `1e9`) into bytes. */
export function parseQuantity(quantity: string | undefined): number | undefined {
  if (!quantity) return undefined;
  const m = /^([0-9.]+(?:e[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E|m)?$/.exec(quantity.trim());
  if (!m) return undefined;
  const factors: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
    k: 1e3,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    m: 1e-3,
  };
  return Math.round(Number(m[1]) * (m[2] ? factors[m[2]] : 1));
}

function labelsMatch(labels: Record<string, string> | undefined, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => labels?.[k] === v);
}

function time(value: Date | string | undefined): number {
  return value ? new Date(value).getTime() : 0;
}

function containerState(status: V1ContainerStatus): KubernetesContainerState {
  const terminated = status.state?.terminated;
  const last = status.lastState?.terminated;
  return {
    name: status.name,
    ready: status.ready,
    restartCount: status.restartCount ?? 0,
    waitingReason: status.state?.waiting?.reason,
    waitingMessage: status.state?.waiting?.message,
    terminatedReason: terminated?.reason,
    lastTerminatedReason: last?.reason,
    exitCode: terminated?.exitCode ?? last?.exitCode,
    image: status.image,
  };
}

function podState(pod: V1Pod): KubernetesPodState {
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []).filter((s) => !s.ready && s.state?.waiting),
    ...(pod.status?.containerStatuses ?? []),
  ];
  const containers =
    statuses.length > 0
      ? statuses.map(containerState)
      : (pod.spec?.containers ?? []).map((c) => ({ name: c.name, ready: false, restartCount: 0, image: c.image }));
  return {
    name: pod.metadata?.name ?? '',
    phase: pod.status?.phase ?? 'Unknown',
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    deleting: pod.metadata?.deletionTimestamp !== undefined && pod.metadata?.deletionTimestamp !== null,
    deletionTimestamp: pod.metadata?.deletionTimestamp
      ? new Date(pod.metadata.deletionTimestamp).toISOString()
      : undefined,
    labels: pod.metadata?.labels ?? {},
    containers,
    createdAt: pod.metadata?.creationTimestamp ? new Date(pod.metadata.creationTimestamp).toISOString() : undefined,
  };
}

/** What the cluster remembers of a Deployment's scale, besides the Deployment itself. */
export interface ScalingHistory {
  replicaSets: V1ReplicaSet[];
  autoscalers: V2HorizontalPodAutoscaler[];
}

/** The annotation the Deployment controller keeps on each ReplicaSet with the Deployment's replicas. */
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';

/**
 * How many replicas a Deployment scaled to zero should get back, read from what the cluster
 * says (in order): healbot's own note from when it changed replicas, the
 * last-applied-configuration annotation, the newest ReplicaSet's desired-replicas, the last
 * ScalingReplicaSet event "… to 0 from N", an HPA's minReplicas; else 1, so the service runs
 * again. The source is named in the plan.
 */
export function replicasToRestore(
  deployment: V1Deployment,
  events: KubernetesState['events'],
  history: ScalingHistory = { replicaSets: [], autoscalers: [] },
): { count: number; source: string } {
  const annotations = deployment.metadata?.annotations ?? {};
  const noted = Number.parseInt(annotations[LAST_REPLICAS_ANNOTATION] ?? '', 10);
  if (Number.isInteger(noted) && noted > 0)
    return {
      count: noted,
      source: `the ${LAST_REPLICAS_ANNOTATION} annotation healbot wrote when it last changed replicas`,
    };
  try {
    const applied = JSON.parse(annotations[LAST_APPLIED_ANNOTATION] ?? '') as { spec?: { replicas?: unknown } };
    const replicas = applied.spec?.replicas;
    if (typeof replicas === 'number' && Number.isInteger(replicas) && replicas > 0)
      return { count: replicas, source: `the ${LAST_APPLIED_ANNOTATION} annotation` };
  } catch {
    // No annotation, or not JSON: try the next source.
  }
  const newestFirst = [...history.replicaSets].sort(
    (a, b) => time(b.metadata?.creationTimestamp) - time(a.metadata?.creationTimestamp),
  );
  for (const rs of newestFirst) {
    const desired = Number.parseInt(rs.metadata?.annotations?.[DESIRED_REPLICAS_ANNOTATION] ?? '', 10);
    if (Number.isInteger(desired) && desired > 0)
      return {
        count: desired,
        source: `the ${DESIRED_REPLICAS_ANNOTATION} annotation of ReplicaSet ${rs.metadata?.name ?? '?'}`,
      };
  }
  for (const event of [...events].reverse()) {
    const match =
      event.reason === 'ScalingReplicaSet'
        ? (/ to 0 from (\d+)\b/.exec(event.message) ?? / from (\d+) to 0\b/.exec(event.message))
        : null;
    if (match && Number(match[1]) > 0)
      return { count: Number(match[1]), source: `the ScalingReplicaSet event "${event.message}"` };
  }
  const hpa = history.autoscalers[0];
  if (hpa)
    return {
      count: Math.max(1, hpa.spec?.minReplicas ?? 1),
      source: `the minReplicas of HorizontalPodAutoscaler ${hpa.metadata?.name ?? '?'}`,
    };
  return { count: 1, source: 'no earlier count is recorded anywhere: 1, so that the service runs again' };
}

/** Whether a Deployment's rollout is complete: the controller saw the spec and every replica is updated and ready. */
export function rolloutComplete(deployment: V1Deployment): boolean {
  const desired = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  return (
    (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0) &&
    (status.updatedReplicas ?? 0) === desired &&
    (status.readyReplicas ?? 0) === desired &&
    (status.availableReplicas ?? 0) === desired &&
    (status.replicas ?? 0) === desired
  );
}

export interface KubernetesRuntimeOptions {
  /** A ready KubeConfig (tests point one at a local API server); otherwise loaded for `config.context`. */
  kubeConfig?: KubeConfig;
  redact?: Redactor;
  /** How long to wait for a rollout after an action. */
  rolloutTimeoutMs?: number;
  /** Clock, for restartedAt. */
  now?: () => Date;
  /** How long one API request may take. @defaultValue KUBERNETES_DEFAULTS.requestTimeoutMs */
  requestTimeoutMs?: number;
}

/** A Deployment as a healbot runtime. */
export class KubernetesRuntime implements Runtime {
  readonly kind = 'kubernetes' as const;
  private readonly kubeConfig: KubeConfig;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly autoscaling: AutoscalingV2Api;
  private readonly redact: Redactor;
  private readonly now: () => Date;
  private readonly rolloutTimeoutMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly config: KubernetesRuntimeConfig,
    options: KubernetesRuntimeOptions = {},
  ) {
    this.kubeConfig = options.kubeConfig ?? loadKubeConfig(config.context);
    this.apps = this.kubeConfig.makeApiClient(AppsV1Api);
    this.core = this.kubeConfig.makeApiClient(CoreV1Api);
    this.autoscaling = this.kubeConfig.makeApiClient(AutoscalingV2Api);
    this.redact = options.redact ?? ((text) => text);
    this.now = options.now ?? (() => new Date());
    this.rolloutTimeoutMs = options.rolloutTimeoutMs ?? KUBERNETES_DEFAULTS.rolloutTimeoutMs;
    this.requestTimeoutMs = options.requestTimeoutMs ?? KUBERNETES_DEFAULTS.requestTimeoutMs;
  }

  private get namespace(): string {
    return this.config.namespace ?? 'default';
  }

  private get target(): string {
    return `deployment/${this.config.deployment} in ${this.namespace}`;
  }

  private call<T>(call: Omit<KubernetesCall, 'namespace'>, run: (options: RequestOptions) => Promise<T>): Promise<T> {
    return kubernetesRequest({ ...call, namespace: this.namespace }, this.requestTimeoutMs, run);
  }

  private readDeployment(): Promise<V1Deployment> {
    const name = this.config.deployment;
    return this.call({ verb: 'get', resource: 'deployments', name }, (options) =>
      this.apps.readNamespacedDeployment({ name, namespace: this.namespace }, options),
    );
  }

  async inspect(options: { logLines?: number; signal?: AbortSignal } = {}): Promise<RuntimeState> {
    try {
      return await this.read(options.logLines ?? KUBERNETES_DEFAULTS.logLines);
    } catch (error) {
      if (error instanceof KubernetesApiError && error.status === 404 && error.call.resource === 'deployments') {
        return {
          runtime: 'kubernetes',
          target: this.target,
          status: 'missing',
          error: `deployment "${this.config.deployment}" not found in namespace "${this.namespace}"`,
        };
      }
      return {
        runtime: 'kubernetes',
        target: this.target,
        status: 'unknown',
        error: this.redact(describeError(error)),
      };
    }
  }

  private async read(logLines: number): Promise<RuntimeState> {
    const deployment = await this.readDeployment();
    const selector = selectorToString(deployment.spec?.selector);
    const podList = await this.call({ verb: 'list', resource: 'pods' }, (options) =>
      this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector }, options),
    );
    const pods = podList.items;
    const [service, events, replicaSets] = await Promise.all([
      this.readService(),
      this.readEvents(deployment, pods),
      this.revisions(deployment),
    ]);

    const desired = deployment.spec?.replicas ?? 1;
    // Reading changes nothing: the annotation is written only when healbot itself changes replicas.
    const restore =
      this.config.replicas !== undefined
        ? { count: this.config.replicas, source: `kubernetes.replicas in the configuration` }
        : desired > 0
          ? { count: desired, source: undefined }
          : replicasToRestore(deployment, events, await this.scalingHistory(selector));
    const lastKnownReplicas = restore.count;

    const containers = deployment.spec?.template?.spec?.containers ?? [];
    const mainContainer = containers.find((c) => c.name === this.config.container) ?? containers[0];
    const memoryLimit = mainContainer?.resources?.limits?.memory;

    const podStates = pods.map(podState);
    const kubernetes: KubernetesState = {
      namespace: this.namespace,
      deployment: this.config.deployment,
      desiredReplicas: desired,
      readyReplicas: deployment.status?.readyReplicas ?? 0,
      availableReplicas: deployment.status?.availableReplicas ?? 0,
      updatedReplicas: deployment.status?.updatedReplicas ?? 0,
      lastKnownReplicas,
      replicasSource: desired > 0 ? undefined : restore.source,
      pods: podStates,
      service,
      events,
      memoryLimit,
      ...(replicaSets.length > 0
        ? {
            rollout: {
              current: revisionOf(replicaSets[0]),
              previous: replicaSets[1] ? revisionOf(replicaSets[1]) : undefined,
            },
          }
        : {}),
    };

    const onPurpose = desired === 0 ? scaledToZeroOnPurpose(deployment.metadata?.managedFields, events) : undefined;
    const logs = await this.failingLogs(pods, logLines);
    const all = podStates.flatMap((p) => p.containers);
    const failing =
      all.find((c) => c.waitingReason === 'CrashLoopBackOff') ??
      all.find((c) => c.lastTerminatedReason ?? c.terminatedReason);
    const restartCount = all.reduce((max, c) => Math.max(max, c.restartCount), 0);
    return {
      runtime: 'kubernetes',
      target: this.target,
      status: genericStatus(kubernetes),
      health: genericHealth(kubernetes),
      exitCode: failing?.exitCode,
      oomKilled: all.some((c) => c.lastTerminatedReason === 'OOMKilled' || c.terminatedReason === 'OOMKilled'),
      restartCount,
      memory: memoryLimit ? { limitBytes: parseQuantity(memoryLimit) } : undefined,
      logs,
      kubernetes,
      ...(onPurpose ? { stoppedOnPurpose: { how: onPurpose.how, at: new Date(onPurpose.at).toISOString() } } : {}),
    };
  }

  /** The Deployment's ReplicaSets, newest revision first. */
  private async revisions(deployment: V1Deployment): Promise<V1ReplicaSet[]> {
    const selector = selectorToString(deployment.spec?.selector);
    const list = await this.call({ verb: 'list', resource: 'replicasets' }, () =>
      this.apps.listNamespacedReplicaSet({ namespace: this.namespace, labelSelector: selector }),
    );
    return list.items
      .filter((rs) =>
        rs.metadata?.ownerReferences?.some(
          (o) => o.kind === 'Deployment' && (o.uid === deployment.metadata?.uid || o.name === this.config.deployment),
        ),
      )
      .sort((a, b) => revisionNumber(b) - revisionNumber(a));
  }

  /** The Deployment's ReplicaSets and HorizontalPodAutoscalers, read only when it is at zero; best effort. */
  private async scalingHistory(selector: string): Promise<ScalingHistory> {
    const name = this.config.deployment;
    const [replicaSets, autoscalers] = await Promise.all([
      this.call({ verb: 'list', resource: 'replicasets' }, (options) =>
        this.apps.listNamespacedReplicaSet({ namespace: this.namespace, labelSelector: selector }, options),
      ).then(
        (list) =>
          list.items.filter(
            (rs) => rs.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === name) ?? true,
          ),
        () => [],
      ),
      this.call({ verb: 'list', resource: 'horizontalpodautoscalers' }, (options) =>
        this.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: this.namespace }, options),
      ).then(
        (list) =>
          list.items.filter(
            (hpa) => hpa.spec?.scaleTargetRef?.kind === 'Deployment' && hpa.spec.scaleTargetRef.name === name,
          ),
        () => [],
      ),
    ]);
    return { replicaSets, autoscalers };
  }

  private async readService(): Promise<KubernetesState['service']> {
    const name = this.config.service;
    if (!name) return undefined;
    let selector: Record<string, string>;
    try {
      const service = await this.call({ verb: 'get', resource: 'services', name }, (options) =>
        this.core.readNamespacedService({ name, namespace: this.namespace }, options),
      );
      selector = service.spec?.selector ?? {};
    } catch (error) {
      if (error instanceof KubernetesApiError && error.status === 404)
        return { name, selector: {}, readyEndpoints: 0, notReadyEndpoints: 0, missing: true };
      throw error;
    }
    // core/v1 Endpoints, not EndpointSlices: one object per Service, readable with a single `get`.
    let ready = 0;
    let notReady = 0;
    try {
      const endpoints = await this.call({ verb: 'get', resource: 'endpoints', name }, (options) =>
        this.core.readNamespacedEndpoints({ name, namespace: this.namespace }, options),
      );
      for (const subset of endpoints.subsets ?? []) {
        ready += subset.addresses?.length ?? 0;
        notReady += subset.notReadyAddresses?.length ?? 0;
      }
    } catch (error) {
      if (!(error instanceof KubernetesApiError && error.status === 404)) throw error;
    }
    return { name, selector, readyEndpoints: ready, notReadyEndpoints: notReady };
  }

  private async readEvents(deployment: V1Deployment, pods: V1Pod[]): Promise<KubernetesState['events']> {
    const list = await this.call({ verb: 'list', resource: 'events' }, (options) =>
      this.core.listNamespacedEvent({ namespace: this.namespace }, options),
    );
    const names = new Set<string>([this.config.deployment, ...pods.map((p) => p.metadata?.name ?? '')]);
    for (const pod of pods) for (const owner of pod.metadata?.ownerReferences ?? []) names.add(owner.name);
    const prefix = `${this.config.deployment}-`;
    const relevant = list.items.filter((e: CoreV1Event) => {
      const name = e.involvedObject?.name ?? '';
      return names.has(name) || (e.involvedObject?.kind !== 'Deployment' && name.startsWith(prefix));
    });
    const when = (e: CoreV1Event) =>
      time(e.lastTimestamp) || time(e.eventTime) || time(e.firstTimestamp) || time(e.metadata?.creationTimestamp);
    relevant.sort((a, b) => when(a) - when(b));
    return relevant.slice(-KUBERNETES_DEFAULTS.events).map((e) => ({
      reason: e.reason ?? '',
      message: this.redact(e.message ?? ''),
      type: e.type ?? 'Normal',
      object: e.involvedObject
        ? `${(e.involvedObject.kind ?? '').toLowerCase()}/${e.involvedObject.name ?? ''}`
        : undefined,
    }));
  }

  /** The last lines of the failing container, from its previous instance when it crashed; redacted. */
  private async failingLogs(pods: V1Pod[], lines: number): Promise<string[] | undefined> {
    let choice: { pod: string; container: string; previous: boolean } | undefined;
    let fallback: typeof choice;
    for (const pod of pods) {
      if (pod.metadata?.deletionTimestamp) continue;
      for (const status of pod.status?.containerStatuses ?? []) {
        if (this.config.container && status.name !== this.config.container) continue;
        const crashed =
          status.lastState?.terminated !== undefined &&
          status.lastState?.terminated !== null &&
          (status.restartCount ?? 0) > 0;
        const entry = {
          pod: pod.metadata?.name ?? '',
          container: status.name,
          previous: crashed && !status.state?.running,
        };
        if (crashed || status.state?.waiting?.reason === 'CrashLoopBackOff' || status.state?.terminated) {
          choice = entry;
          break;
        }
        if (!status.ready && status.state?.running && !fallback) fallback = { ...entry, previous: false };
      }
      if (choice) break;
    }
    choice ??= fallback;
    if (!choice) return undefined;
    const { pod, container, previous } = choice;
    try {
      const text = await this.call({ verb: 'get', resource: 'pods/log', name: pod }, (options) =>
        this.core.readNamespacedPodLog(
          { name: pod, namespace: this.namespace, container, previous, tailLines: lines },
          options,
        ),
      );
      return redactLines(String(text ?? ''), this.redact)
        .filter((line) => line.length > 0)
        .slice(-lines);
    } catch (error) {
      return [`(logs of ${pod}/${container} unavailable: ${this.redact(describeError(error))})`];
    }
  }

  /** Keeps the last non-zero replica count on the Deployment so a scale to zero can be undone. */
  private async rememberReplicas(replicas: number): Promise<void> {
    const name = this.config.deployment;
    await this.call({ verb: 'patch', resource: 'deployments', name }, (options) =>
      this.apps.patchNamespacedDeployment(
        {
          name,
          namespace: this.namespace,
          body: { metadata: { annotations: { [LAST_REPLICAS_ANNOTATION]: String(replicas) } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch, options),
      ),
    );
  }

  supports(action: RuntimeAction['action']): boolean {
    return action === 'scale' || action === 'rollout_restart' || action === 'delete_pod' || action === 'rollout_undo';
  }

  async perform(action: RuntimeAction, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.rolloutTimeoutMs;
    const name = this.config.deployment;
    switch (action.action) {
      case 'scale': {
        const replicas = Number(action.params?.replicas);
        if (!Number.isInteger(replicas) || replicas < 0)
          throw new RuntimeError(
            `scale needs a whole number of replicas ≥ 0, got ${JSON.stringify(action.params?.replicas)}`,
          );
        const current = await this.readDeployment();
        const currentReplicas = current.spec?.replicas ?? 1;
        if (currentReplicas > 0) await this.rememberReplicas(currentReplicas);
        await this.call({ verb: 'patch', resource: 'deployments/scale', name }, (request) =>
          this.apps.patchNamespacedDeploymentScale(
            { name, namespace: this.namespace, body: { spec: { replicas } } },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch, request),
          ),
        );
        return this.waitForRollout(timeoutMs, options.signal);
      }
      case 'rollout_restart': {
        const current = await this.readDeployment();
        const replicas = current.spec?.replicas ?? 1;
        const body = {
          ...(replicas > 0 ? { metadata: { annotations: { [LAST_REPLICAS_ANNOTATION]: String(replicas) } } } : {}),
          spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: this.now().toISOString() } } } },
        };
        // What `kubectl rollout restart` sends: a strategic merge patch of the pod template's annotations.
        await this.call({ verb: 'patch', resource: 'deployments', name }, (request) =>
          this.apps.patchNamespacedDeployment(
            { name, namespace: this.namespace, body },
            setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch, request),
          ),
        );
        return this.waitForRollout(timeoutMs, options.signal);
      }
      case 'rollout_undo': {
        const current = await this.readDeployment();
        const [newest, ...older] = await this.revisions(current);
        const wanted =
          action.params?.revision !== undefined
            ? older.find((rs) => revisionNumber(rs) === Number(action.params?.revision))
            : older[0];
        if (!newest || !wanted)
          throw new RuntimeError(
            `deployment "${name}" in namespace "${this.namespace}" has no ${action.params?.revision !== undefined ? `revision ${action.params.revision}` : 'previous revision'} to roll back to`,
          );
        const template = structuredClone(wanted.spec?.template ?? {});
        if (template.metadata?.labels) delete template.metadata.labels['pod-template-hash'];
        // What `kubectl rollout undo` sends: the old ReplicaSet's pod template, without its hash label, as a JSON patch.
        await this.call({ verb: 'patch', resource: 'deployments', name }, () =>
          this.apps.patchNamespacedDeployment(
            { name, namespace: this.namespace, body: [{ op: 'replace', path: '/spec/template', value: template }] },
            setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
          ),
        );
        return this.waitForRollout(timeoutMs, options.signal);
      }
      case 'delete_pod': {
        const pod = String(action.params?.pod ?? '');
        if (!pod) throw new RuntimeError('delete_pod needs params.pod, the pod to delete');
        const deployment = await this.readDeployment();
        const found = await this.call({ verb: 'get', resource: 'pods', name: pod }, (options) =>
          this.core.readNamespacedPod({ name: pod, namespace: this.namespace }, options),
        );
        // Every action is scoped to the named service: never delete a pod another workload owns.
        if (!labelsMatch(found.metadata?.labels, deployment.spec?.selector?.matchLabels ?? {})) {
          throw new RuntimeError(
            `pod "${pod}" does not belong to deployment "${name}" in namespace "${this.namespace}"; healbot deletes only the named service's pods`,
          );
        }
        const deleted = await this.call({ verb: 'delete', resource: 'pods', name: pod }, (options) =>
          this.core.deleteNamespacedPod({ name: pod, namespace: this.namespace }, options),
        );
        const deadline = Date.now() + timeoutMs;
        await this.waitForPodGone(
          pod,
          found.metadata?.uid,
          deleted.metadata?.resourceVersion,
          timeoutMs,
          options.signal,
        );
        return this.waitForRollout(Math.max(1, deadline - Date.now()), options.signal);
      }
      default:
        throw new RuntimeError(
          `the kubernetes runtime cannot ${action.action}; it can scale, rollout_restart, rollout_undo and delete_pod`,
        );
    }
  }

  /** Waits, through a watch on the Deployment, until its rollout is complete. */
  async waitForRollout(timeoutMs = this.rolloutTimeoutMs, signal?: AbortSignal): Promise<void> {
    let last: V1Deployment | undefined;
    const name = this.config.deployment;
    await this.watchUntil(
      {
        path: `/apis/apps/v1/namespaces/${this.namespace}/deployments`,
        query: { fieldSelector: `metadata.name=${name}` },
        call: { verb: 'watch', resource: 'deployments', name },
      },
      (type, object: V1Deployment) => {
        if (type === 'DELETED')
          throw new RuntimeError(`deployment "${name}" was deleted while healbot waited for its rollout`);
        last = object;
        return rolloutComplete(object);
      },
      timeoutMs,
      signal,
      () => {
        const s = last?.status;
        const desired = last?.spec?.replicas ?? '?';
        return `timed out after ${Math.round(timeoutMs / 1000)} s waiting for deployment "${name}" in namespace "${this.namespace}" to roll out (ready ${s?.readyReplicas ?? 0}/${desired}, updated ${s?.updatedReplicas ?? 0}/${desired})`;
      },
    );
  }

  private async waitForPodGone(
    pod: string,
    uid: string | undefined,
    resourceVersion: string | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.watchUntil(
      {
        path: `/api/v1/namespaces/${this.namespace}/pods`,
        query: { fieldSelector: `metadata.name=${pod}`, resourceVersion },
        call: { verb: 'watch', resource: 'pods', name: pod },
      },
      (type, object: V1Pod) => type === 'DELETED' || (uid !== undefined && object.metadata?.uid !== uid),
      timeoutMs,
      signal,
      () =>
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for pod "${pod}" in namespace "${this.namespace}" to terminate`,
    );
  }

  /** Watches a collection until `done` says so, re-watching when the server closes the stream. */
  private watchUntil(
    target: { path: string; query: Record<string, string | undefined>; call: Omit<KubernetesCall, 'namespace'> },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    done: (type: string, object: any) => boolean,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    timeoutMessage: () => string,
  ): Promise<void> {
    const watch = new Watch(this.kubeConfig);
    return new Promise<void>((resolve, reject) => {
      let controller: AbortController | undefined;
      let finished = false;
      let resumeFrom = target.query.resourceVersion;
      const finish = (error?: Error) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        controller?.abort();
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => finish(new RuntimeError(timeoutMessage())), timeoutMs);
      const onAbort = () => finish(new RuntimeError(`stopped waiting: ${describeError(signal?.reason ?? 'aborted')}`));
      signal?.addEventListener('abort', onAbort);
      const start = () => {
        if (finished) return;
        watch
          .watch(
            target.path,
            { ...target.query, resourceVersion: resumeFrom, allowWatchBookmarks: false },
            (type, object) => {
              if (finished) return;
              if (type === 'ERROR') {
                resumeFrom = undefined;
                return;
              }
              resumeFrom = object?.metadata?.resourceVersion ?? resumeFrom;
              try {
                if (done(type, object)) finish();
              } catch (error) {
                finish(error instanceof Error ? error : new RuntimeError(String(error)));
              }
            },
            (error) => {
              if (finished) return;
              const status = statusOf(error);
              if (status === 403 || status === 401 || status === 404)
                return finish(toKubernetesError(error, { ...target.call, namespace: this.namespace }));
              if (status === 410) resumeFrom = undefined;
              // The API server ends watches at its timeout; resume where the stream stopped.
              setTimeout(start, error ? 200 : 0);
            },
          )
          .then((c) => {
            controller = c;
            if (finished) c.abort();
          })
          .catch((error: unknown) => finish(toKubernetesError(error, { ...target.call, namespace: this.namespace })));
      };
      if (signal?.aborted) onAbort();
      else start();
    });
  }
}

function revisionNumber(rs: V1ReplicaSet): number {
  return Number.parseInt(rs.metadata?.annotations?.[REVISION_ANNOTATION] ?? '0', 10) || 0;
}

function revisionOf(rs: V1ReplicaSet): KubernetesRevision {
  return {
    revision: revisionNumber(rs),
    replicaSet: rs.metadata?.name ?? '',
    podTemplateHash: rs.metadata?.labels?.['pod-template-hash'],
    images: (rs.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? '(no image)'),
    readyReplicas: rs.status?.readyReplicas ?? 0,
    availableReplicas: rs.status?.availableReplicas ?? 0,
  };
}

function genericStatus(k: KubernetesState): RuntimeState['status'] {
  const live = k.pods.filter((p) => !p.deleting);
  const containers = live.flatMap((p) => p.containers);
  if (k.readyReplicas > 0) return 'running';
  if (k.desiredReplicas === 0) return 'exited';
  if (containers.some((c) => c.waitingReason === 'CrashLoopBackOff')) return 'restarting';
  if (live.length === 0 || live.every((p) => p.phase === 'Pending')) return 'created';
  if (live.some((p) => p.phase === 'Running')) return 'running';
  if (live.every((p) => p.phase === 'Failed' || p.phase === 'Succeeded')) return 'exited';
  return 'unknown';
}

function genericHealth(k: KubernetesState): RuntimeState['health'] {
  if (k.desiredReplicas === 0) return 'none';
  if (k.readyReplicas >= k.desiredReplicas) return 'healthy';
  const live = k.pods.filter((p) => !p.deleting);
  const starting =
    k.pods.some((p) => p.deleting) ||
    live.some((p) =>
      p.containers.some((c) => c.waitingReason === 'ContainerCreating' || c.waitingReason === 'PodInitializing'),
    );
  return starting ? 'starting' : 'unhealthy';
}

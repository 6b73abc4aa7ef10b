/**
 * Root causes that only the Kubernetes API can tell (scenarios 6-10): a Deployment scaled to
 * zero, images that cannot be pulled, crash loops, OOM kills, Services that route nowhere, and
 * pods that are merely being recreated. Pure: state in, finding out.
 */
import type {
  Evidence,
  KubernetesContainerState,
  KubernetesPodState,
  KubernetesRevision,
  KubernetesState,
  ProbeResult,
  RootCause,
  RuntimeState,
} from '../types.js';

const IMAGE_PULL_REASONS = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull']);
const STARTING_REASONS = new Set(['ContainerCreating', 'PodInitializing']);
/** The kubelet cannot create the container from its spec: a missing ConfigMap or Secret key, a bad command. */
const CONTAINER_CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

const formatLabels = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '(none)';

interface FoundContainer {
  pod: KubernetesPodState;
  container: KubernetesContainerState;
}

function containersWhere(k: KubernetesState, predicate: (c: KubernetesContainerState) => boolean): FoundContainer[] {
  return k.pods
    .filter((p) => !p.deleting)
    .flatMap((pod) => pod.containers.filter(predicate).map((container) => ({ pod, container })));
}

function deploymentEvidence(k: KubernetesState): Evidence {
  return {
    source: 'runtime',
    detail: `deployment ${k.namespace}/${k.deployment}: desired ${k.desiredReplicas}, ready ${k.readyReplicas}, available ${k.availableReplicas}${k.updatedReplicas !== undefined ? `, updated ${k.updatedReplicas}` : ''}`,
  };
}

function containerEvidence({ pod, container: c }: FoundContainer): Evidence {
  const bits = [
    `pod ${pod.name} (${pod.phase}${pod.ready ? ', ready' : ''}${pod.deleting ? ', terminating' : ''}) container ${c.name}`,
  ];
  if (c.image) bits.push(`image ${c.image}`);
  if (c.waitingReason) bits.push(`waiting: ${c.waitingReason}${c.waitingMessage ? ` (${c.waitingMessage})` : ''}`);
  if (c.terminatedReason) bits.push(`terminated: ${c.terminatedReason}`);
  if (c.lastTerminatedReason) bits.push(`last terminated: ${c.lastTerminatedReason}`);
  if (c.exitCode !== undefined) bits.push(`exit code ${c.exitCode}`);
  bits.push(`${c.restartCount} restarts`);
  return { source: 'runtime', detail: bits.join(', ') };
}

function eventEvidence(
  k: KubernetesState,
  filter: (e: KubernetesState['events'][number]) => boolean = () => true,
): Evidence[] {
  return k.events
    .filter(filter)
    .slice(-5)
    .map((e) => ({
      source: 'runtime' as const,
      detail: `event ${e.type} ${e.reason}${e.object ? ` on ${e.object}` : ''}: ${e.message}`,
    }));
}

function probeEvidence(probes: ProbeResult[]): Evidence[] {
  return probes.map((p) => ({
    source: 'probe' as const,
    detail: `${p.service}/${p.name} ${p.ok ? 'ok' : 'failed'}${p.status !== undefined ? ` (${p.status})` : ''}${p.error ? `: ${p.error}` : ''}`,
  }));
}

function logEvidence(state: RuntimeState): Evidence[] {
  return state.logs && state.logs.length > 0
    ? [{ source: 'runtime', detail: `last log lines:\n${state.logs.slice(-10).join('\n')}` }]
    : [];
}

const unique = <T>(values: T[]): T[] => [...new Set(values)];

const describeRevision = (r: KubernetesRevision) => `revision ${r.revision} (${r.images.join(', ')})`;

/**
 * A release that crashes on start: every pod of the newest revision fails while the revision
 * before it still serves. A restart would restart the same bad release; an undo fixes it.
 */
function badRolloutCause(
  service: string,
  k: KubernetesState,
  base: Evidence[],
  state: RuntimeState,
): RootCause | undefined {
  const { current, previous } = k.rollout ?? {};
  if (!current?.podTemplateHash || !previous || previous.availableReplicas === 0) return undefined;
  const fresh = k.pods.filter((p) => !p.deleting && p.labels['pod-template-hash'] === current.podTemplateHash);
  const failing = fresh.filter((p) =>
    p.containers.some((c) => c.waitingReason === 'CrashLoopBackOff' || c.lastTerminatedReason !== undefined),
  );
  if (failing.length === 0 || fresh.some((p) => p.ready)) return undefined;
  const found = failing.flatMap((pod) => pod.containers.map((container) => ({ pod, container })));
  const codes = unique(found.map((f) => f.container.exitCode).filter((c): c is number => c !== undefined));
  return {
    kind: 'bad_rollout',
    service,
    summary: `deployment ${k.namespace}/${k.deployment}: the new ${describeRevision(current)} crash-loops (${failing.length} of ${fresh.length} new pods, exit code ${codes.join('/') || 'unknown'}) while ${describeRevision(previous)} is still available (${previous.availableReplicas} pods); undo the rollout to revision ${previous.revision}, a restart would only restart the bad release`,
    confidence: 0.9,
    evidence: [
      ...base,
      {
        source: 'runtime',
        detail: `new ${describeRevision(current)}: replica set ${current.replicaSet}, ${current.readyReplicas} ready`,
      },
      {
        source: 'runtime',
        detail: `previous ${describeRevision(previous)}: replica set ${previous.replicaSet}, ${previous.availableReplicas} available`,
      },
      ...found.slice(0, 3).map(containerEvidence),
      ...logEvidence(state),
    ],
  };
}

/**
 * Names a Kubernetes-specific root cause for `service`, or undefined when the cluster shows
 * nothing wrong (or nothing it can explain) and the generic rules should decide.
 */
export function kubernetesRootCause(
  service: string,
  state: RuntimeState,
  probes: ProbeResult[],
): RootCause | undefined {
  const k = state.kubernetes;
  if (!k) return undefined;
  const where = `deployment ${k.namespace}/${k.deployment}`;
  const base = [deploymentEvidence(k), ...probeEvidence(probes)];
  const live = k.pods.filter((p) => !p.deleting);

  // Scenario 6.
  if (k.desiredReplicas === 0) {
    const restore = k.lastKnownReplicas;
    return {
      kind: 'scaled_to_zero',
      service,
      summary:
        restore !== undefined
          ? `${where} is scaled to 0 replicas; scale it back to ${restore}`
          : `${where} is scaled to 0 replicas and healbot does not know its previous count; set kubernetes.replicas for ${service} or scale it by hand`,
      confidence: restore !== undefined ? 0.95 : 0.9,
      evidence: [...base, ...eventEvidence(k, (e) => e.reason === 'ScalingReplicaSet')],
    };
  }

  // Scenario 8: no restart can fix an image that cannot be pulled.
  const pulls = containersWhere(k, (c) => c.waitingReason !== undefined && IMAGE_PULL_REASONS.has(c.waitingReason));
  if (pulls.length > 0) {
    const images = unique(pulls.map((p) => p.container.image ?? '(unknown image)'));
    const pullEvents = k.events.filter(
      (e) => e.type === 'Warning' && /pull/i.test(e.message) && e.reason !== 'BackOff',
    );
    const pullError =
      pullEvents.at(-1)?.message ?? pulls[0].container.waitingMessage ?? pulls[0].container.waitingReason;
    return {
      kind: 'image_pull_failed',
      service,
      summary: `${where} cannot pull image ${images.join(', ')} (${pulls[0].container.waitingReason}): ${pullError}. Fix the image reference or the registry credentials; restarting will not help`,
      confidence: 0.95,
      evidence: [
        ...base,
        ...pulls.slice(0, 3).map(containerEvidence),
        ...eventEvidence(k, (e) => /pull/i.test(e.message)),
      ],
    };
  }

  // Not "starting": these pods wait for a fix to their spec, and the pod status says which (see the missing_config pattern).
  const misconfigured = containersWhere(
    k,
    (c) => c.waitingReason !== undefined && CONTAINER_CONFIG_REASONS.has(c.waitingReason),
  );
  if (misconfigured.length > 0) {
    const first = misconfigured[0].container;
    return {
      kind: 'service_down',
      service,
      summary: `${unique(misconfigured.map((m) => m.pod.name)).length} of ${live.length} pods of ${where} cannot start container ${first.name} (${first.waitingReason}${first.waitingMessage ? `: ${first.waitingMessage}` : ''})`,
      confidence: 0.9,
      evidence: [...base, ...misconfigured.slice(0, 3).map(containerEvidence)],
    };
  }

  const badRollout = badRolloutCause(service, k, base, state);
  if (badRollout) return badRollout;

  // Scenario 11 on Kubernetes: more specific than the crash loop an OOM kill usually causes.
  const ooms = containersWhere(k, (c) => c.lastTerminatedReason === 'OOMKilled' || c.terminatedReason === 'OOMKilled');
  const rolloutHealthy = live.length > 0 && k.readyReplicas >= k.desiredReplicas && live.every((p) => p.ready);
  const probesFailing = probes.some((p) => !p.ok);
  if (ooms.length > 0 && (!rolloutHealthy || probesFailing || ooms.some((o) => !o.container.ready))) {
    const limit = k.memoryLimit ?? (state.memory?.limitBytes ? `${state.memory.limitBytes} bytes` : undefined);
    const usage = state.memory?.usageBytes
      ? `last usage ${state.memory.usageBytes} bytes`
      : 'its usage reached the limit when it was killed';
    return {
      kind: 'oom_killed',
      service,
      summary: `${where}: container ${ooms[0].container.name} was OOM-killed (exit ${ooms[0].container.exitCode ?? 137}, ${ooms[0].container.restartCount} restarts); ${limit ? `memory limit ${limit}, ${usage}` : 'no memory limit is set, so the node ran out of memory'}. Raise the limit or fix the leak; a restart only buys time`,
      confidence: 0.9,
      evidence: [...base, ...ooms.slice(0, 3).map(containerEvidence), ...logEvidence(state)],
    };
  }

  // Scenario 7.
  const crashing = containersWhere(k, (c) => c.waitingReason === 'CrashLoopBackOff');
  if (crashing.length > 0) {
    const pods = unique(crashing.map((c) => c.pod.name));
    const codes = unique(crashing.map((c) => c.container.exitCode).filter((c): c is number => c !== undefined));
    const restarts = Math.max(...crashing.map((c) => c.container.restartCount));
    return {
      kind: 'crash_loop',
      service,
      summary: `${pods.length} of ${live.length} pods of ${where} are in CrashLoopBackOff (container ${crashing[0].container.name}, exit code ${codes.join('/') || 'unknown'}, up to ${restarts} restarts)`,
      confidence: 0.9,
      evidence: [...base, ...crashing.slice(0, 3).map(containerEvidence), ...logEvidence(state)],
    };
  }

  // Scenario 9, permanent half: the Service's selector matches none of the Deployment's pods.
  const svc = k.service;
  if (svc?.missing) {
    return {
      kind: 'no_endpoints',
      service,
      summary: `Service ${k.namespace}/${svc.name} does not exist, so nothing routes to ${where}; create it or fix kubernetes.service`,
      confidence: 0.85,
      evidence: base,
    };
  }
  const selects = (pod: KubernetesPodState) =>
    svc !== undefined && Object.entries(svc.selector).every(([key, value]) => pod.labels[key] === value);
  if (svc && Object.keys(svc.selector).length > 0 && live.length > 0 && !live.some(selects)) {
    return {
      kind: 'no_endpoints',
      service,
      summary: `Service ${k.namespace}/${svc.name} selects ${formatLabels(svc.selector)}, but the pods of ${where} are labelled ${formatLabels(live[0].labels)}; fix the selector or the pod labels, restarting will not help`,
      confidence: 0.9,
      evidence: [
        ...base,
        { source: 'runtime', detail: `Service ${svc.name} selector: ${formatLabels(svc.selector)}` },
        ...live
          .slice(0, 3)
          .map((p) => ({ source: 'runtime' as const, detail: `pod ${p.name} labels: ${formatLabels(p.labels)}` })),
        { source: 'runtime', detail: `endpoints: ${svc.readyEndpoints} ready, ${svc.notReadyEndpoints} not ready` },
      ],
    };
  }

  // Scenario 10: a pod is going away and its replacement is on its way; wait, do not act.
  const deleting = k.pods.filter((p) => p.deleting);
  const starting = live.filter(
    (p) =>
      !p.ready &&
      (p.phase === 'Pending' ||
        p.containers.length === 0 ||
        p.containers.some((c) => c.waitingReason !== undefined && STARTING_REASONS.has(c.waitingReason))),
  );
  // A pod the scheduler cannot place is not on its way: that is for the generic rules to report.
  const unschedulable = k.events.some(
    (e) => e.reason === 'FailedScheduling' && starting.some((p) => e.object === `pod/${p.name}`),
  );
  if (!rolloutHealthy && !unschedulable && (starting.length > 0 || deleting.length > 0)) {
    const parts: string[] = [];
    if (deleting.length > 0)
      parts.push(`${deleting.map((p) => p.name).join(', ')} ${deleting.length === 1 ? 'is' : 'are'} terminating`);
    if (starting.length > 0)
      parts.push(`${starting.map((p) => p.name).join(', ')} ${starting.length === 1 ? 'is' : 'are'} starting`);
    return {
      kind: 'recreating',
      service,
      summary: `${where} is recreating pods: ${parts.join(' and ')} (ready ${k.readyReplicas}/${k.desiredReplicas}); wait for the replacement and verify, no action needed`,
      confidence: 0.8,
      evidence: [
        ...base,
        ...[...deleting, ...starting].map((p) => ({
          source: 'runtime' as const,
          detail: `pod ${p.name}: ${p.phase}${p.deleting ? `, terminating since ${p.deletionTimestamp ?? 'now'}` : ''}${p.ready ? ', ready' : ', not ready'}`,
        })),
      ],
    };
  }

  // Scenario 9, the other half: pods are up and ready, yet the Service has no ready endpoint.
  const readySelected = live.filter((p) => p.phase === 'Running' && p.ready && selects(p));
  if (svc && Object.keys(svc.selector).length > 0 && svc.readyEndpoints === 0 && readySelected.length > 0) {
    return {
      kind: 'no_endpoints',
      service,
      summary: `Service ${k.namespace}/${svc.name} has no ready endpoints although ${readySelected.length} pod(s) of ${where} are running and ready; check the Service's ports and selector (${formatLabels(svc.selector)}), restarting will not help`,
      confidence: 0.85,
      evidence: [
        ...base,
        {
          source: 'runtime',
          detail: `Service ${svc.name} selector: ${formatLabels(svc.selector)}; endpoints: ${svc.readyEndpoints} ready, ${svc.notReadyEndpoints} not ready`,
        },
        ...readySelected
          .slice(0, 3)
          .map((p) => ({ source: 'runtime' as const, detail: `pod ${p.name} labels: ${formatLabels(p.labels)}` })),
      ],
    };
  }

  return undefined;
}

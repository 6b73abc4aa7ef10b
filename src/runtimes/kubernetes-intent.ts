/**
 * Tells a Deployment a person scaled to zero (`kubectl scale --replicas=0`, a dashboard, a
 * GitOps sync) from one that lost its replicas otherwise, by who last wrote `spec.replicas`
 * (the server-side managed fields) and whether anything failed before.
 */
import type { V1ManagedFieldsEntry } from '@kubernetes/client-node';
import type { KubernetesState } from '../engine/types.js';
import type { StopOnPurpose } from './docker-intent.js';

/** Field managers that change replicas on their own, not on a person's word. */
const AUTOMATIC_MANAGERS: ReadonlySet<string> = new Set(['kube-controller-manager', 'horizontal-pod-autoscaler']);

const ownsReplicas = (entry: V1ManagedFieldsEntry) => {
  const spec = (entry.fieldsV1 as Record<string, Record<string, unknown>> | undefined)?.['f:spec'];
  return entry.subresource === 'scale' || (spec !== undefined && Object.hasOwn(spec, 'f:replicas'));
};

/**
 * The scale to zero on purpose, if the Deployment (at 0 replicas) was last scaled by a field
 * manager that is not a controller and no warning (a crash, a failed probe) came before it.
 */
export function scaledToZeroOnPurpose(
  managedFields: readonly V1ManagedFieldsEntry[] | undefined,
  events: KubernetesState['events'],
): StopOnPurpose | undefined {
  if (events.some((e) => e.type === 'Warning')) return undefined;
  const writers = (managedFields ?? []).filter((entry) => ownsReplicas(entry) && entry.time !== undefined);
  const last = writers.sort((a, b) => new Date(a.time!).getTime() - new Date(b.time!).getTime()).at(-1);
  if (!last?.manager || AUTOMATIC_MANAGERS.has(last.manager)) return undefined;
  return { how: `${last.manager} set replicas to 0`, at: new Date(last.time!).getTime() };
}

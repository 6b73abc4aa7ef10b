/**
 * Least privilege, checked: every API call the runtime (in each namespace the sample config
 * heals) and the lease elector (in the Lease's namespace) make is allowed by the RBAC generated
 * for that config, and every permission it grants is used by some call there.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { HEALING_RULES, leaseRules, rbacManifests, type PolicyRule } from '../../src/deploy/rbac.js';
import { KubernetesRuntime } from '../../src/runtimes/kubernetes.js';
import { LeaseElector } from '../../src/runtimes/kubernetes-lease.js';
import type { RequestAttributes } from './api-server.js';
import { startCluster, type TestCluster } from './cluster.js';

/** The sample HA install: the healbot.yml in its ConfigMap and the RBAC generated from it. */
const INSTALL = new URL('../../deploy/kubernetes-ha/', import.meta.url);
const docsOf = (file: URL) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS());
const sampleConfig = parseConfigText(docsOf(new URL('configmap.yaml', INSTALL))[0].data['healbot.yml'], {
  HEALBOT_TOKEN: 'x'.repeat(32),
  HEALBOT_STORE_URL: 'postgres://healbot:secret@postgres.db.svc.cluster.local:5432/healbot',
  POD_NAME: 'healbot-0',
});
const rbacDocs = docsOf(new URL('rbac.yaml', INSTALL)) as Manifest[];
const lease = sampleConfig.leaderElection!;
const SERVICE_ACCOUNT = { kind: 'ServiceAccount', name: 'healbot', namespace: 'healbot' };

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** The rules the ServiceAccount holds in one namespace: Roles there that a RoleBinding there binds to it. */
function rulesIn(namespace: string | undefined): PolicyRule[] {
  const bound = rbacDocs
    .filter(
      (d) =>
        d.kind === 'RoleBinding' &&
        d.metadata.namespace === namespace &&
        d.subjects?.some(
          (s) =>
            s.kind === SERVICE_ACCOUNT.kind &&
            s.name === SERVICE_ACCOUNT.name &&
            s.namespace === SERVICE_ACCOUNT.namespace,
        ),
    )
    .map((d) => d.roleRef!.name);
  return rbacDocs
    .filter((d) => d.kind === 'Role' && d.metadata.namespace === namespace && bound.includes(d.metadata.name))
    .flatMap((d) => d.rules ?? []);
}

const resourceOf = (r: RequestAttributes) => (r.subresource ? `${r.resource}/${r.subresource}` : r.resource);

/** The RBAC authorizer's decision for one request (no wildcards: healbot's Roles use none). */
function allowedBy(rules: PolicyRule[], r: RequestAttributes): PolicyRule | undefined {
  return rules.find(
    (rule) =>
      rule.apiGroups.includes(r.apiGroup) &&
      rule.resources.includes(resourceOf(r)) &&
      rule.verbs.includes(r.verb) &&
      // resourceNames cannot restrict create, list, watch of a collection: RBAC sees no name there.
      (!rule.resourceNames || (r.name !== undefined && rule.resourceNames.includes(r.name))),
  );
}

const allowed = (r: RequestAttributes) => allowedBy(rulesIn(r.namespace), r) !== undefined;
const healed = Object.values(sampleConfig.services).flatMap((s) => (s.kubernetes ? [s.kubernetes] : []));
let cluster: TestCluster;

beforeAll(async () => {
  // The server itself enforces the generated RBAC, so any call it does not allow fails the flows below.
  cluster = await startCluster({ authorize: allowed });
  for (const target of healed) {
    cluster.controller.createDeployment({
      namespace: target.namespace,
      name: target.deployment,
      replicas: 2,
      labels: { app: target.deployment },
      memoryLimit: '64Mi',
    });
    cluster.controller.createService(target.namespace, target.service ?? target.deployment, { app: target.deployment });
  }
  for (const target of healed) {
    const NS = target.namespace;
    const name = target.deployment;
    await cluster.controller.waitFor(
      () => cluster.server.store.get('apps/deployments', NS, name)?.status?.readyReplicas === 2,
    );
    const runtime = new KubernetesRuntime(target, { kubeConfig: cluster.kubeConfig, rolloutTimeoutMs: 5000 });
    const healthy = await runtime.inspect();
    if (healthy.error) throw new Error(healthy.error);
    cluster.controller.setFault(NS, name, { kind: 'crash_loop' });
    await cluster.controller.waitFor(
      () => cluster.server.store.get('apps/deployments', NS, name)?.status?.readyReplicas === 0,
    );
    const crashing = await runtime.inspect();
    if (!crashing.logs?.length || crashing.logs[0].startsWith('(logs'))
      throw new Error(`no logs read: ${JSON.stringify(crashing.logs)}`);
    cluster.controller.setFault(NS, name, undefined);
    await runtime.perform({ action: 'scale', params: { replicas: 0 } });
    const atZero = await runtime.inspect();
    if (atZero.error) throw new Error(atZero.error);
    await runtime.perform({ action: 'scale', params: { replicas: 3 } });
    await runtime.perform({ action: 'rollout_restart' });
    await runtime.perform({ action: 'rollout_undo' });
    const pod = cluster.controller
      .podsOf(cluster.server.store.get('apps/deployments', NS, name)!)
      .find((p) => !p.metadata.deletionTimestamp)!.metadata.name as string;
    await runtime.perform({ action: 'delete_pod', params: { pod } });
  }

  const errors: string[] = [];
  // A generous request deadline: this checks which verbs are called, not how fast (the machine may be loaded).
  const elector = new LeaseElector({
    kubeConfig: cluster.kubeConfig,
    namespace: lease.namespace,
    name: lease.lease,
    identity: 'healbot-0',
    leaseDurationSeconds: 1,
    retryPeriodMs: 50,
    requestTimeoutMs: 10_000,
    onError: (m) => errors.push(m),
  });
  await elector.start();
  await cluster.controller.waitFor(() =>
    cluster.server.requests.some((r) => r.resource === 'leases' && r.verb === 'update'),
  ); // a renewal
  await elector.stop();
  if (errors.length > 0) throw new Error(errors.join('; '));
});

afterAll(async () => {
  await cluster?.stop();
});

describe('the generated RBAC (deploy/kubernetes-ha/rbac.yaml, from its ConfigMap)', () => {
  it('is what `healbot rbac` generates for the config', () => {
    expect(rbacDocs).toEqual(rbacManifests(sampleConfig));
    expect(docsOf(new URL('../../deploy/kubernetes/rbac.yaml', import.meta.url))).toEqual(
      rbacManifests(
        parseConfigText(
          docsOf(new URL('../../deploy/kubernetes/configmap.yaml', import.meta.url))[0].data['healbot.yml'],
          { HEALBOT_TOKEN: 'x'.repeat(32) },
        ),
      ),
    );
  });

  it('allows every call the runtime made in each healed namespace and the lease elector made in its own', () => {
    const requests = cluster.server.requests;
    expect(new Set(requests.map((r) => r.namespace))).toEqual(
      new Set([...healed.map((t) => t.namespace), lease.namespace]),
    );
    const denied = requests
      .filter((r) => !allowed(r))
      .map((r) => `${r.verb} ${r.apiGroup}/${resourceOf(r)} ${r.namespace}/${r.name ?? ''}`);
    expect(denied).toEqual([]);
  });

  it('grants nothing that no call used, in any namespace', () => {
    const unused: string[] = [];
    for (const namespace of new Set(rbacDocs.map((d) => d.metadata.namespace))) {
      for (const rule of rulesIn(namespace)) {
        for (const resource of rule.resources) {
          for (const verb of rule.verbs) {
            const used = cluster.server.requests.some(
              (r) => r.namespace === namespace && r.verb === verb && resourceOf(r) === resource && allowedBy([rule], r),
            );
            if (!used) unused.push(`${verb} ${resource} in ${namespace}`);
          }
        }
      }
    }
    expect(unused).toEqual([]);
  });

  it('maps watches, collection reads and subresources the way Kubernetes authorization does', () => {
    const seen = new Set(cluster.server.requests.map((r) => `${r.verb} ${r.apiGroup}/${resourceOf(r)}`));
    for (const expected of [
      'watch apps/deployments',
      'list /pods',
      'get /pods/log',
      'patch apps/deployments/scale',
      'list apps/replicasets',
      'delete /pods',
      'update coordination.k8s.io/leases',
      'create coordination.k8s.io/leases',
    ]) {
      expect(seen).toContain(expected);
    }
  });

  it('names the Lease of leaderElection.lease, in its namespace, and nothing else there', () => {
    expect(rulesIn(lease.namespace)).toEqual(leaseRules(lease.lease));
    const renamed = rbacManifests({
      ...sampleConfig,
      leaderElection: { ...lease, lease: 'ops-healbot' },
    }) as unknown as Manifest[];
    expect(
      renamed.find((d) => d.kind === 'Role' && d.metadata.namespace === lease.namespace)?.rules?.[1].resourceNames,
    ).toEqual(['ops-healbot']);
  });
});

describe('deploy/cluster-wide/clusterrole.yaml (opt-in)', () => {
  it('grants the healing rules cluster-wide, bound to the healbot ServiceAccount', () => {
    const docs = docsOf(new URL('../../deploy/cluster-wide/clusterrole.yaml', import.meta.url)) as Manifest[];
    expect(docs.find((d) => d.kind === 'ClusterRole')?.rules).toEqual(HEALING_RULES);
    expect(docs.find((d) => d.kind === 'ClusterRoleBinding')?.subjects).toEqual([SERVICE_ACCOUNT]);
  });
});

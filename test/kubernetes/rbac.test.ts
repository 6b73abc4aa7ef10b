/**
 * Least privilege, checked: every API call the runtime and the lease elector make is allowed
 * by the Role in deploy/, and every permission the Role grants is used by some call.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KubernetesRuntime } from '../../src/runtimes/kubernetes.js';
import { LeaseElector } from '../../src/runtimes/kubernetes-lease.js';
import type { RequestAttributes } from './api-server.js';
import { startCluster, type TestCluster } from './cluster.js';

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

function rulesOf(file: string, kind: 'Role' | 'ClusterRole'): PolicyRule[] {
  const docs = parseAllDocuments(readFileSync(new URL(`../../deploy/${file}`, import.meta.url), 'utf8')).map((d) => d.toJS() as { kind: string; rules?: PolicyRule[] });
  const role = docs.find((d) => d.kind === kind);
  if (!role?.rules) throw new Error(`deploy/${file} has no ${kind} with rules`);
  return role.rules;
}

const resourceOf = (r: RequestAttributes) => (r.subresource ? `${r.resource}/${r.subresource}` : r.resource);

/** The RBAC authorizer's decision for one request (no wildcards: healbot's Role uses none). */
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

const NS = 'healbot';
let cluster: TestCluster;
const role = rulesOf('role.yaml', 'Role');

beforeAll(async () => {
  // The server itself enforces the Role, so any call it does not allow fails the flows below.
  cluster = await startCluster({ authorize: (r) => allowedBy(role, r) !== undefined });
  cluster.controller.createDeployment({ namespace: NS, name: 'api', replicas: 2, labels: { app: 'api' }, memoryLimit: '64Mi' });
  cluster.controller.createService(NS, 'api', { app: 'api' });
  await cluster.controller.waitFor(() => cluster.server.store.get('apps/deployments', NS, 'api')?.status?.readyReplicas === 2);

  const runtime = new KubernetesRuntime({ namespace: NS, deployment: 'api', service: 'api' }, { kubeConfig: cluster.kubeConfig, rolloutTimeoutMs: 5000 });
  const healthy = await runtime.inspect();
  if (healthy.error) throw new Error(healthy.error);
  cluster.controller.setFault(NS, 'api', { kind: 'crash_loop' });
  await cluster.controller.waitFor(() => cluster.server.store.get('apps/deployments', NS, 'api')?.status?.readyReplicas === 0);
  const crashing = await runtime.inspect();
  if (!crashing.logs?.length || crashing.logs[0].startsWith('(logs')) throw new Error(`no logs read: ${JSON.stringify(crashing.logs)}`);
  cluster.controller.setFault(NS, 'api', undefined);
  await runtime.perform({ action: 'scale', params: { replicas: 3 } });
  await runtime.perform({ action: 'rollout_restart' });
  const pod = cluster.controller.podsOf(cluster.server.store.get('apps/deployments', NS, 'api')!).find((p) => !p.metadata.deletionTimestamp)!.metadata.name as string;
  await runtime.perform({ action: 'delete_pod', params: { pod } });

  const errors: string[] = [];
  const elector = new LeaseElector({ kubeConfig: cluster.kubeConfig, namespace: NS, identity: 'healbot-0', leaseDurationSeconds: 1, retryPeriodMs: 50, onError: (m) => errors.push(m) });
  await elector.start();
  await new Promise((r) => setTimeout(r, 120)); // a few renewals
  await elector.stop();
  if (errors.length > 0) throw new Error(errors.join('; '));
});

afterAll(async () => {
  await cluster?.stop();
});

describe('deploy/role.yaml', () => {
  it('allows every call the runtime and the lease elector made', () => {
    const requests = cluster.server.requests;
    expect(requests.length).toBeGreaterThan(10);
    const denied = requests.filter((r) => !allowedBy(role, r)).map((r) => `${r.verb} ${r.apiGroup}/${resourceOf(r)} ${r.name ?? ''}`);
    expect(denied).toEqual([]);
  });

  it('grants nothing that no call used', () => {
    const unused: string[] = [];
    for (const rule of role) {
      for (const resource of rule.resources) {
        for (const verb of rule.verbs) {
          const used = cluster.server.requests.some((r) => r.verb === verb && resourceOf(r) === resource && rule.apiGroups.includes(r.apiGroup) && allowedBy([rule], r));
          if (!used) unused.push(`${verb} ${resource}`);
        }
      }
    }
    expect(unused).toEqual([]);
  });

  it('maps watches, collection reads and subresources the way Kubernetes authorization does', () => {
    const seen = new Set(cluster.server.requests.map((r) => `${r.verb} ${r.apiGroup}/${resourceOf(r)}`));
    for (const expected of ['watch apps/deployments', 'list /pods', 'get /pods/log', 'patch apps/deployments/scale', 'delete /pods', 'update coordination.k8s.io/leases', 'create coordination.k8s.io/leases']) {
      expect(seen).toContain(expected);
    }
  });

  it('is bound to the healbot ServiceAccount', () => {
    const docs = parseAllDocuments(readFileSync(new URL('../../deploy/role.yaml', import.meta.url), 'utf8')).map((d) => d.toJS());
    const binding = docs.find((d) => d.kind === 'RoleBinding');
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: 'healbot' });
    expect(binding.subjects).toContainEqual({ kind: 'ServiceAccount', name: 'healbot', namespace: 'healbot' });
    const deployment = parseAllDocuments(readFileSync(new URL('../../deploy/deployment.yaml', import.meta.url), 'utf8'))[0].toJS();
    expect(deployment.spec.template.spec.serviceAccountName).toBe('healbot');
  });
});

describe('deploy/clusterrole.yaml', () => {
  it('grants the same rules as the Role', () => {
    expect(rulesOf('clusterrole.yaml', 'ClusterRole')).toEqual(role);
  });
});

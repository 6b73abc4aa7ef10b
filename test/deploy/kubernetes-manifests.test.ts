/**
 * The Kubernetes manifests, read as the API server and an operator would: every document has
 * what its kind requires, and what one names (selectors, the ServiceAccount, Secret and
 * ConfigMap, volumes, probe paths and ports) exists in the same install.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { rbacManifests } from '../../src/deploy/rbac.js';
import { parseListen } from '../../src/serve.js';
import { REPO_ROOT } from '../support/node-image.js';

type Doc = Record<string, any> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  file: string;
};

const DEPLOY = join(REPO_ROOT, 'deploy');
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  ServiceAccount: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  Service: 'v1',
  PersistentVolumeClaim: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  PodDisruptionBudget: 'policy/v1',
  Role: 'rbac.authorization.k8s.io/v1',
  RoleBinding: 'rbac.authorization.k8s.io/v1',
  ClusterRole: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
};

function readDocs(dir: string): Doc[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => {
        if (d.errors.length > 0) throw new Error(`${dir}/${file}: ${d.errors[0].message}`);
        return { ...(d.toJS() as Doc), file: `${dir.slice(DEPLOY.length + 1)}/${file}` };
      }),
    );
}

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const IMAGE_CONFIG_PATH = /^CMD \["serve", "--config", "([^"]+)"\]$/m.exec(dockerfile)![1];
const IMAGE_UID = Number(/^USER (\d+):\d+$/m.exec(dockerfile)![1]);
const secretExample = readDocs(DEPLOY).find((d) => d.kind === 'Secret')!;

const INSTALLS = [
  { dir: 'kubernetes', workload: 'Deployment', ha: false },
  { dir: 'kubernetes-ha', workload: 'StatefulSet', ha: true },
] as const;

describe('every manifest under deploy/', () => {
  const all = [
    DEPLOY,
    ...readdirSync(DEPLOY, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(DEPLOY, e.name)),
  ].flatMap(readDocs);

  it('has the apiVersion of its kind, a name, and a namespace exactly when the kind is namespaced', () => {
    expect(all.length).toBeGreaterThan(15);
    for (const doc of all) {
      const where = `${doc.file}: ${doc.kind} ${doc.metadata?.name}`;
      expect(API_VERSIONS[doc.kind], where).toBe(doc.apiVersion);
      expect(doc.metadata.name, where).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      if (CLUSTER_SCOPED.has(doc.kind)) expect(doc.metadata.namespace, where).toBeUndefined();
      else expect(doc.metadata.namespace, where).toMatch(/^[a-z0-9-]+$/);
      expect(doc.metadata.labels?.['app.kubernetes.io/name'], where).toBe('healbot');
    }
  });

  it('keeps cluster-wide access and secrets out of the default apply paths', () => {
    for (const { dir } of INSTALLS) {
      const kinds = readDocs(join(DEPLOY, dir)).map((d) => d.kind);
      expect(kinds).not.toContain('ClusterRole');
      expect(kinds).not.toContain('ClusterRoleBinding');
      expect(kinds).not.toContain('Secret');
    }
    // deploy/ itself holds only the example Secret: `kubectl apply -f deploy/` creates nothing by surprise.
    expect(readDocs(DEPLOY).map((d) => d.kind)).toEqual(['Secret']);
    expect(secretExample.metadata).toMatchObject({ name: 'healbot-secrets', namespace: 'healbot' });
    expect(Object.keys(secretExample.stringData)).toContain('HEALBOT_TOKEN');
  });
});

for (const install of INSTALLS) {
  describe(`deploy/${install.dir}/`, () => {
    const docs = readDocs(join(DEPLOY, install.dir));
    const find = (kind: string, name?: string) =>
      docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
    const workload = find(install.workload)[0];
    const pod = workload.spec.template.spec;
    const container = pod.containers[0];
    const home = workload.metadata.namespace;
    const configMap = find('ConfigMap')[0];
    const config: Config = parseConfigText(configMap.data['healbot.yml'], {
      HEALBOT_TOKEN: 'x'.repeat(32),
      HEALBOT_STORE_URL: 'postgres://healbot:secret@postgres.db.svc.cluster.local:5432/healbot',
      POD_NAME: `${workload.metadata.name}-0`,
    });

    it('puts everything of its own in one Namespace it creates', () => {
      expect(find('Namespace').map((d) => d.metadata.name)).toEqual([home]);
      const own = docs.filter((d) => !CLUSTER_SCOPED.has(d.kind) && d.kind !== 'Role' && d.kind !== 'RoleBinding');
      expect(new Set(own.map((d) => d.metadata.namespace))).toEqual(new Set([home]));
    });

    it('selects its own pods, from the workload, the Services and any disruption budget', () => {
      const labels = workload.spec.template.metadata.labels;
      expect(labels).toMatchObject(workload.spec.selector.matchLabels);
      for (const service of find('Service')) expect(labels, service.metadata.name).toMatchObject(service.spec.selector);
      for (const budget of find('PodDisruptionBudget')) expect(labels).toMatchObject(budget.spec.selector.matchLabels);
    });

    it('runs as the ServiceAccount the RBAC binds, as the image user, without privileges', () => {
      expect(find('ServiceAccount', pod.serviceAccountName)).toHaveLength(1);
      for (const binding of find('RoleBinding'))
        expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: home }]);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: IMAGE_UID, fsGroup: IMAGE_UID });
      expect(container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
    });

    it('requires HEALBOT_TOKEN from the Secret the example defines', () => {
      const token = container.env.find((e: { name: string }) => e.name === 'HEALBOT_TOKEN');
      expect(token.valueFrom.secretKeyRef).toEqual({ name: secretExample.metadata.name, key: 'HEALBOT_TOKEN' });
      for (const source of container.envFrom ?? []) {
        expect(source.secretRef.name).toBe(secretExample.metadata.name);
        expect(source.secretRef.optional).toBeUndefined();
      }
      expect(config.server?.token).toBe('x'.repeat(32));
    });

    it('mounts the ConfigMap where the image reads its config, and keeps its state where every replica finds it', () => {
      const volumeFor = (path: string) => {
        const mount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === path);
        expect(mount, `a volumeMount at ${path}`).toBeDefined();
        return mount.name as string;
      };
      const configVolume = pod.volumes.find((v: { name: string }) => v.name === volumeFor(dirname(IMAGE_CONFIG_PATH)));
      expect(configVolume.configMap.name).toBe(configMap.metadata.name);
      expect(Object.keys(configMap.data)).toEqual([IMAGE_CONFIG_PATH.slice(dirname(IMAGE_CONFIG_PATH).length + 1)]);
      expect(container.args ?? container.command).toBeUndefined();

      if (install.ha) {
        // Shared state in Postgres, its URL (a secret) from the Secret; no per-replica volume to lose.
        expect(config.store.url).toMatch(/^postgres:\/\//);
        expect(configMap.data['healbot.yml']).toContain('url: "${HEALBOT_STORE_URL}"');
        expect(container.env).toContainEqual({
          name: 'HEALBOT_STORE_URL',
          valueFrom: { secretKeyRef: { name: secretExample.metadata.name, key: 'HEALBOT_STORE_URL' } },
        });
        expect(readFileSync(join(DEPLOY, 'secret.example.yaml'), 'utf8')).toContain('HEALBOT_STORE_URL:');
        expect(workload.spec.volumeClaimTemplates).toBeUndefined();
      } else {
        const stateVolume = volumeFor(dirname(config.store.path));
        const claim = pod.volumes.find((v: { name: string }) => v.name === stateVolume).persistentVolumeClaim.claimName;
        expect(find('PersistentVolumeClaim', claim)).toHaveLength(1);
      }
    });

    it('probes /healthz and /readyz on the port healbot listens on, and the Service reaches it', () => {
      const { port } = parseListen(config.server!.listen);
      const http = container.ports.find((p: { containerPort: number }) => p.containerPort === port);
      expect(http, `a container port ${port} (server.listen)`).toBeDefined();
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: http.name });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: http.name });
      for (const service of find('Service'))
        expect(service.spec.ports.map((p: { targetPort: string }) => p.targetPort)).toContain(http.name);
    });

    it('uses the RBAC `healbot rbac` generates for its config', () => {
      const rbac = docs.filter((d) => d.file.endsWith('/rbac.yaml')).map(({ file: _file, ...doc }) => doc);
      expect(rbac).toEqual(rbacManifests(config, { namespace: home, serviceAccount: pod.serviceAccountName }));
    });

    if (install.ha) {
      it('runs several replicas that elect a leader through the Lease, each named after its pod', () => {
        expect(workload.spec.replicas).toBeGreaterThanOrEqual(2);
        expect(workload.spec.updateStrategy.type).toBe('RollingUpdate');
        expect(config.leaderElection).toMatchObject({ namespace: home, identity: `${workload.metadata.name}-0` });
        expect(configMap.data['healbot.yml']).toContain('identity: "${POD_NAME}"');
        expect(container.env).toContainEqual({
          name: 'POD_NAME',
          valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
        });
        const governing = find('Service', workload.spec.serviceName)[0];
        expect(governing.spec.clusterIP).toBe('None');
        expect(find('PodDisruptionBudget')[0].spec.minAvailable).toBeLessThan(workload.spec.replicas);
      });
    } else {
      it('runs one replica, replaced by Recreate so two never write the state at once', () => {
        expect(workload.spec.replicas).toBe(1);
        expect(workload.spec.strategy).toEqual({ type: 'Recreate' });
        expect(config.leaderElection).toBeUndefined();
      });
    }
  });
}

/** `healbot rbac`: the RBAC a config needs, printed as YAML, from the built CLI. */
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { rbacManifests } from '../../src/deploy/rbac.js';
import { configDir, runCli } from '../support/cli.js';

const raw = {
  server: { listen: '0.0.0.0:8080', token: '${HEALBOT_TOKEN}' },
  leaderElection: { namespace: 'ops', lease: 'healbot-prod' },
  services: {
    api: { kubernetes: { namespace: 'shop', deployment: 'api' } },
    web: { kubernetes: { namespace: 'shop', deployment: 'web' } },
    jobs: { kubernetes: { namespace: 'batch', deployment: 'jobs' } },
    local: { command: { restart: ['true'] } },
  },
};

describe('healbot rbac', () => {
  const dir = configDir();
  afterAll(() => dir.cleanup());

  it('prints a Role and RoleBinding per healed namespace and the Lease rules, without needing the secrets set', async () => {
    const result = await runCli(['rbac', '--config', dir.write('healbot.yml', raw), '--namespace', 'ops']);
    expect(result.exitCode, result.stderr).toBe(0);
    const docs = parseAllDocuments(result.stdout).map((d) => d.toJS());
    expect(docs).toEqual(rbacManifests(parseConfig(raw, { HEALBOT_TOKEN: 'unset' }), { namespace: 'ops' }));
    expect(docs.filter((d) => d.kind === 'Role').map((d) => d.metadata.namespace)).toEqual(['batch', 'shop', 'ops']);
    expect(docs.find((d) => d.kind === 'Role' && d.metadata.namespace === 'ops').rules[1].resourceNames).toEqual([
      'healbot-prod',
    ]);
    expect(docs.filter((d) => d.kind === 'RoleBinding').every((d) => d.subjects[0].namespace === 'ops')).toBe(true);
  });

  it('refuses a bad config in one line naming the field, exit 2', async () => {
    const result = await runCli([
      'rbac',
      '--config',
      dir.write('bad.yml', { services: { api: { kubernetes: { namespace: 'Shop!', deployment: 'api' } } } }),
    ]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('services.api.kubernetes.namespace');
    expect(result.stdout).toBe('');
  });
});

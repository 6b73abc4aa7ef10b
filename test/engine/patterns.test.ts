import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { BUILTIN_PATTERNS, matchPatterns, patternsFor, refineWithPatterns } from '../../src/engine/patterns/index.js';
import { planFor } from '../../src/engine/plan.js';
import type { ProbeResult, RootCause, RuntimeState } from '../../src/engine/types.js';

const logs = (...text: string[]) => text.map((t) => ({ text: t, source: 'logs' as const }));
const crash: RootCause = {
  kind: 'crash_loop',
  service: 'api',
  summary: 'the api container keeps crashing (exit 1, 4 restarts)',
  confidence: 0.9,
  evidence: [],
};
const docker = (lines: string[], status: RuntimeState['status'] = 'restarting'): RuntimeState => ({
  runtime: 'docker',
  target: 'api',
  status,
  logs: lines,
});

describe('matching failure patterns', () => {
  it('prefers the most confident pattern, then the latest line', () => {
    expect(
      matchPatterns(
        logs('dial tcp db:5432: connect: connection refused', 'open /data/x: no space left on device', 'boot'),
        BUILTIN_PATTERNS,
      ),
    ).toMatchObject({ id: 'disk_full', confidence: 0.9 });
    expect(
      matchPatterns(logs('getaddrinfo ENOTFOUND cache', 'getaddrinfo ENOTFOUND queue'), BUILTIN_PATTERNS),
    ).toMatchObject({ id: 'dns_failure', subject: 'queue', line: 'getaddrinfo ENOTFOUND queue' });
    expect(matchPatterns(logs('listening on :8000', 'GET /ready 200'), BUILTIN_PATTERNS)).toBeUndefined();
  });

  it('reads a probe error only for certificates: the probe failing to connect is not the service naming its dependency', () => {
    const probe = (error: string) => [{ text: error, source: 'probe' as const }];
    expect(matchPatterns(probe('connect ECONNREFUSED 127.0.0.1:8000'), BUILTIN_PATTERNS)).toBeUndefined();
    expect(matchPatterns(probe('certificate has expired'), BUILTIN_PATTERNS)).toMatchObject({
      id: 'tls_certificate_expired',
      source: 'probe',
    });
  });

  it("finds a missing key in Kubernetes' own words", () => {
    const state: RuntimeState = {
      runtime: 'kubernetes',
      target: 'deployment/api in shop',
      status: 'created',
      kubernetes: {
        namespace: 'shop',
        deployment: 'api',
        desiredReplicas: 1,
        readyReplicas: 0,
        availableReplicas: 0,
        pods: [
          {
            name: 'api-1',
            phase: 'Pending',
            ready: false,
            deleting: false,
            labels: {},
            containers: [
              {
                name: 'app',
                ready: false,
                restartCount: 0,
                waitingReason: 'CreateContainerConfigError',
                waitingMessage: "couldn't find key DATABASE_URL in ConfigMap shop/api-config",
              },
            ],
          },
        ],
        events: [],
      },
    };
    const refined = refineWithPatterns({ ...crash, kind: 'service_down' }, state, []);
    expect(refined.pattern).toMatchObject({ id: 'missing_config', subject: 'DATABASE_URL', source: 'pod status' });
    expect(refined.summary).toContain(
      "Kubernetes says 'couldn't find key DATABASE_URL in ConfigMap shop/api-config' (pattern missing_config, confidence 0.85); set the missing setting DATABASE_URL",
    );
  });

  it('user patterns come first and win a tie with a built-in one', () => {
    const config = parseConfig({
      services: { api: { command: { restart: ['true'] } } },
      patterns: [
        { id: 'disk_full_on_nfs', match: 'nfs.*no space left', confidence: 0.9, advice: 'grow the NFS share' },
      ],
    });
    const match = matchPatterns(logs('nfs write failed: No space left on device'), patternsFor(config));
    expect(match).toMatchObject({ id: 'disk_full_on_nfs', advice: 'grow the NFS share' });
  });
});

describe('refining a root cause', () => {
  it('adds the match to summary and evidence and keeps the kind', () => {
    const refined = refineWithPatterns(
      crash,
      docker(['starting', 'Error: listen EADDRINUSE: address already in use :::8080']),
      [],
    );
    expect(refined.kind).toBe('crash_loop');
    expect(refined.summary).toBe(
      "the api container keeps crashing (exit 1, 4 restarts): its last logs say 'Error: listen EADDRINUSE: address already in use :::8080' (pattern address_in_use, confidence 0.85); another process already holds the port :::8080: stop it or move one of them; a restart will not help while it does",
    );
    expect(refined.evidence.at(-1)?.detail).toContain('pattern address_in_use');
  });

  it('leaves alone what is not about the process: a broken layer, a healthy service, a paused container', () => {
    const disk = ['No space left on device'];
    const probes: ProbeResult[] = [];
    expect(
      refineWithPatterns({ ...crash, kind: 'layer_broken' }, docker(disk, 'running'), probes).pattern,
    ).toBeUndefined();
    expect(refineWithPatterns({ ...crash, kind: 'healthy' }, docker(disk, 'running'), probes).pattern).toBeUndefined();
    expect(
      refineWithPatterns({ ...crash, kind: 'service_down' }, docker(disk, 'paused'), probes).pattern,
    ).toBeUndefined();
  });

  it('a refused or unresolvable dependency that is a configured service is named as the one to heal', () => {
    const config = parseConfig({
      services: { api: { docker: { container: 'shop-api' } }, db: { docker: { container: 'shop-postgres' } } },
    });
    const ctx = { config, diagnosis: { runtime: {} }, supports: () => true };
    const refused = refineWithPatterns(crash, docker(['dial tcp shop-postgres:5432: connect: connection refused']), []);
    expect(planFor(refused, ctx)).toEqual([
      expect.objectContaining({
        action: 'manual',
        target: 'api',
        reason: expect.stringMatching(/\(pattern connection_refused\); db is a configured service: \/heal db$/),
      }),
    ]);
    const elsewhere = refineWithPatterns(crash, docker(['dial tcp 10.0.0.9:5432: connect: connection refused']), []);
    expect(planFor(elsewhere, ctx)[0].reason).not.toContain('/heal');
  });
});

/**
 * The final summary of every scenario in ../shared/scenarios.md, from observations through the
 * real rules, planner and summarize(), frozen as snapshots: a change in wording is a reviewed
 * change. Every summary says each sentence once, and puts the root cause first.
 * Scenario 14 (a cycle in the health gates) is rejected by `healbot check` and has no summary.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Observations, ServiceObservation } from '../../src/engine/observation.js';
import { planFor } from '../../src/engine/plan.js';
import { summarize } from '../../src/engine/report.js';
import { determineRootCause } from '../../src/engine/root-cause.js';
import type {
  ActionResult,
  HealReport,
  KubernetesPodState,
  KubernetesState,
  PlanStep,
  RuntimeState,
} from '../../src/engine/types.js';
import { dnsFail, observe, OK, REFUSED, running, status, TIMEOUT, type ProbeOutcome } from '../support/observations.js';

const config = parseConfig({
  services: {
    api: {
      docker: { container: 'portfolio-backend' },
      probes: [
        { name: 'public', http: 'https://api.example.com/ready' },
        { name: 'proxy', http: 'http://portfolio-nginx/ready', service: 'nginx' },
        { name: 'internal', http: 'http://portfolio-api.int:8000/ready' },
      ],
      dependsOn: ['db'],
    },
    nginx: { docker: { container: 'portfolio-nginx' } },
    db: { docker: { container: 'postgres' }, probes: [{ name: 'internal', tcp: 'postgres:5432' }] },
    shop: {
      kubernetes: { namespace: 'shop', deployment: 'shop' },
      probes: [{ name: 'ready', http: 'http://shop.shop.svc:8080/ready' }],
    },
  },
});

const healthyDb = () => observe(config, 'db', [OK], running('postgres'));
const healthyNginx = (): ServiceObservation => ({
  service: 'nginx',
  probes: [],
  runtime: running('portfolio-nginx'),
  dependsOn: [],
});

const pod = (
  name: string,
  over: Partial<KubernetesPodState> = {},
  container: Partial<KubernetesPodState['containers'][number]> = {},
): KubernetesPodState => ({
  name,
  phase: 'Running',
  ready: true,
  deleting: false,
  labels: { app: 'shop' },
  containers: [{ name: 'app', ready: true, restartCount: 0, image: 'registry.example/shop:1.4', ...container }],
  ...over,
});
const kube = (over: Partial<KubernetesState>): RuntimeState => ({
  runtime: 'kubernetes',
  target: 'deployment/shop in shop',
  status: 'running',
  kubernetes: {
    namespace: 'shop',
    deployment: 'shop',
    desiredReplicas: 2,
    readyReplicas: 2,
    availableReplicas: 2,
    pods: [pod('shop-1'), pod('shop-2')],
    service: { name: 'shop', selector: { app: 'shop' }, readyEndpoints: 2, notReadyEndpoints: 0 },
    events: [],
    ...over,
  },
});

interface Case {
  service: string;
  observed: ServiceObservation[];
  canaries?: Observations['canaries'];
  /** How the run ended, as the engine would report it. */
  outcome: HealReport['outcome'];
  escalation?: string;
  approvedBy?: string[];
  deniedBy?: string;
  timeToHealMs?: number;
}

const done = (step: PlanStep): ActionResult => ({ action: step.action, target: step.target, ok: true, ms: 1200 });

function finalSummary(c: Case): string {
  const observations: Observations = {
    services: Object.fromEntries(c.observed.map((o) => [o.service, o])),
    canaries: c.canaries ?? [],
  };
  const rootCause = determineRootCause(c.service, observations);
  const runtime = Object.fromEntries(c.observed.map((o) => [o.service, o.runtime]));
  const plan = planFor(rootCause, { config, diagnosis: { runtime }, supports: (name) => runtime[name] !== undefined });
  const actions =
    c.outcome === 'healed' || c.outcome === 'failed' ? plan.filter((s) => s.risk !== 'manual').map(done) : [];
  return summarize({
    outcome: c.outcome,
    rootCause,
    plan,
    actions,
    approvedBy: c.approvedBy ?? [],
    deniedBy: c.deniedBy,
    timeToHealMs: c.timeToHealMs,
    escalation: c.escalation,
    service: c.service,
  });
}

const outcomes = (...list: ProbeOutcome[]) => list;

const scenarios: Record<string, Case> = {
  '1 the tunnel has no route: layer_broken, escalate': {
    service: 'api',
    observed: [
      observe(config, 'api', outcomes(status(502), OK, OK), running('portfolio-backend')),
      healthyDb(),
      healthyNginx(),
    ],
    outcome: 'escalated',
  },
  '2 the proxy answers 502: layer_broken, restart the proxy after approval': {
    service: 'api',
    observed: [
      observe(config, 'api', outcomes(status(502), status(502), OK), running('portfolio-backend')),
      healthyDb(),
      healthyNginx(),
    ],
    outcome: 'healed',
    approvedBy: ['@ana'],
    timeToHealMs: 3100,
  },
  '3 the backend exited: service_down, started after approval': {
    service: 'api',
    observed: [
      observe(
        config,
        'api',
        outcomes(status(502), status(502), REFUSED),
        running('portfolio-backend', { status: 'exited', exitCode: 137 }),
      ),
      healthyDb(),
      healthyNginx(),
    ],
    outcome: 'healed',
    approvedBy: ['@ana'],
    timeToHealMs: 4200,
  },
  '4 running but its probe times out: service_unhealthy, denied': {
    service: 'api',
    observed: [
      observe(
        config,
        'api',
        outcomes(TIMEOUT, TIMEOUT, TIMEOUT),
        running('portfolio-backend', { logs: ['ERROR pool exhausted'] }),
      ),
      healthyDb(),
      healthyNginx(),
    ],
    outcome: 'denied',
    deniedBy: '@bob',
  },
  '5 healbot cannot resolve names: observer_blind, change nothing': {
    service: 'api',
    observed: [
      observe(
        config,
        'api',
        outcomes(OK, dnsFail('portfolio-nginx'), dnsFail('portfolio-api.int')),
        running('portfolio-backend'),
      ),
      observe(config, 'db', [dnsFail('postgres')], running('postgres')),
      healthyNginx(),
    ],
    outcome: 'escalated',
  },
  '6 scaled to zero: scale back after approval': {
    service: 'shop',
    observed: [
      observe(
        config,
        'shop',
        outcomes(REFUSED),
        kube({ desiredReplicas: 0, readyReplicas: 0, availableReplicas: 0, pods: [], lastKnownReplicas: 3 }),
      ),
    ],
    outcome: 'healed',
    approvedBy: ['@ana'],
    timeToHealMs: 9800,
  },
  '7 crash loop after the breaker opened: escalate with the logs': {
    service: 'shop',
    observed: [
      observe(
        config,
        'shop',
        outcomes(status(503)),
        kube({
          readyReplicas: 0,
          availableReplicas: 0,
          pods: [
            pod(
              'shop-1',
              { ready: false },
              {
                ready: false,
                restartCount: 7,
                waitingReason: 'CrashLoopBackOff',
                lastTerminatedReason: 'Error',
                exitCode: 1,
              },
            ),
          ],
        }),
      ),
    ],
    outcome: 'escalated',
    escalation:
      'the breaker for shop is open (it needed healing too often); no more automatic attempts until someone runs /heal resume shop',
  },
  '8 the image cannot be pulled: escalate': {
    service: 'shop',
    observed: [
      observe(
        config,
        'shop',
        outcomes(REFUSED),
        kube({
          readyReplicas: 0,
          availableReplicas: 0,
          pods: [
            pod(
              'shop-1',
              { ready: false, phase: 'Pending' },
              {
                ready: false,
                waitingReason: 'ImagePullBackOff',
                waitingMessage: 'manifest unknown',
                image: 'registry.example/shop:9.9',
              },
            ),
          ],
        }),
      ),
    ],
    outcome: 'escalated',
  },
  '9 the Service selects no pods: escalate': {
    service: 'shop',
    observed: [
      observe(
        config,
        'shop',
        outcomes(REFUSED),
        kube({ service: { name: 'shop', selector: { app: 'shopp' }, readyEndpoints: 0, notReadyEndpoints: 0 } }),
      ),
    ],
    outcome: 'escalated',
  },
  '10 a replacement pod is starting: wait, then healthy': {
    service: 'shop',
    observed: [
      observe(
        config,
        'shop',
        outcomes(REFUSED),
        kube({
          readyReplicas: 1,
          availableReplicas: 1,
          pods: [
            pod('shop-1', { deleting: true, ready: false }),
            pod('shop-2', { ready: false, phase: 'Pending' }, { ready: false, waitingReason: 'ContainerCreating' }),
          ],
        }),
      ),
    ],
    outcome: 'not_needed',
  },
  '11 OOM-killed: restarted after approval, memory in the summary': {
    service: 'api',
    observed: [
      observe(
        config,
        'api',
        outcomes(status(502), status(502), REFUSED),
        running('portfolio-backend', {
          status: 'exited',
          exitCode: 137,
          oomKilled: true,
          memory: { limitBytes: 128 * 1024 ** 2, usageBytes: 127 * 1024 ** 2 },
        }),
      ),
      healthyDb(),
      healthyNginx(),
    ],
    outcome: 'healed',
    approvedBy: ['@ana'],
    timeToHealMs: 2500,
  },
  '12 the dependency is down: heal the dependency': {
    service: 'api',
    observed: [
      observe(config, 'api', outcomes(status(502), status(502), status(503)), running('portfolio-backend')),
      observe(config, 'db', [REFUSED], running('postgres', { status: 'exited', exitCode: 1 })),
      healthyNginx(),
    ],
    outcome: 'healed',
    approvedBy: ['@ana'],
    timeToHealMs: 5100,
  },
  '13 healed too often: the breaker is open': {
    service: 'api',
    observed: [
      observe(
        config,
        'api',
        outcomes(status(502), status(502), REFUSED),
        running('portfolio-backend', { status: 'exited', exitCode: 1 }),
      ),
      healthyDb(),
      healthyNginx(),
    ],
    outcome: 'escalated',
    escalation:
      'the breaker for api is open (it needed healing too often); no more automatic attempts until someone runs /heal resume api',
  },
};

describe('the final summary of every scenario', () => {
  for (const [name, scenario] of Object.entries(scenarios)) {
    it(`scenario ${name}`, () => {
      const summary = finalSummary(scenario);
      expect(summary).toMatchSnapshot();
      // Each clause once.
      const clauses = summary.split(/(?<=[.;])\s+/).map((c) =>
        c
          .replace(/[.;]+$/, '')
          .trim()
          .toLowerCase(),
      );
      expect(new Set(clauses).size).toBe(clauses.length);
    });
  }

  it('db with no runtime says its cause once, then what a person must do', () => {
    const bare = parseConfig({ services: { db: { probes: [{ name: 'internal', tcp: 'postgres:5432' }] } } });
    const observations: Observations = { services: { db: observe(bare, 'db', [REFUSED]) }, canaries: [] };
    const rootCause = determineRootCause('db', observations);
    const plan = planFor(rootCause, { config: bare, diagnosis: { runtime: {} }, supports: () => false });
    const summary = summarize({ outcome: 'escalated', rootCause, plan, actions: [], approvedBy: [], service: 'db' });
    const cause = rootCause.summary.replace(/\.$/, '').toLowerCase();
    expect(summary.toLowerCase().split(cause)).toHaveLength(2);
    expect(summary).toContain('restart it by hand');
  });
});

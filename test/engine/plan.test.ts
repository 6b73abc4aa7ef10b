import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { Observations, ServiceObservation } from '../../src/engine/observation.js';
import { planFor, type PlanContext } from '../../src/engine/plan.js';
import { determineRootCause } from '../../src/engine/root-cause.js';
import type { PlanStep, RootCause, RuntimeState } from '../../src/engine/types.js';
import {
  dnsFail,
  observe as observeWith,
  OK,
  REFUSED,
  running,
  status,
  TIMEOUT,
  type ProbeOutcome,
} from '../support/observations.js';
import type { RuntimeAction } from '../../src/runtimes/runtime.js';

/** The topology, plus a proxy service (nginx) that owns the proxy layer of `owned-api`. */
const config: Config = parseConfig({
  services: {
    api: {
      docker: { container: 'portfolio-backend' },
      probes: [
        { name: 'public', http: 'https://api.example.com/ready' },
        { name: 'proxy', http: 'http://portfolio-nginx/ready' },
        { name: 'internal', http: 'http://portfolio-api.int:8000/ready' },
      ],
      dependsOn: ['db'],
    },
    'owned-api': {
      docker: { container: 'backend-2' },
      probes: [
        { name: 'public', http: 'https://api2.example.com/ready' },
        { name: 'proxy', http: 'http://portfolio-nginx/ready', service: 'nginx' },
        { name: 'internal', http: 'http://backend-2:8000/ready' },
      ],
    },
    nginx: { docker: { container: 'portfolio-nginx' } },
    db: { docker: { container: 'postgres' }, probes: [{ name: 'internal', tcp: 'postgres:5432' }] },
  },
});

const state = running;
const observe = (
  service: string,
  outcomes: ProbeOutcome[],
  runtime?: RuntimeState,
  cfg: Config = config,
): ServiceObservation => observeWith(cfg, service, outcomes, runtime);

const DOCKER_ACTIONS: RuntimeAction['action'][] = ['restart', 'start', 'unpause'];

/** Runs the rules and the planner on observations, as the engine does. */
function plan(
  observed: ServiceObservation[],
  service = 'api',
  options: { cfg?: Config; supports?: RuntimeAction['action'][]; extra?: Partial<Observations> } = {},
): { rc: RootCause; steps: PlanStep[] } {
  const cfg = options.cfg ?? config;
  const observations: Observations = {
    services: Object.fromEntries(observed.map((o) => [o.service, o])),
    canaries: [],
    ...options.extra,
  };
  const rc = determineRootCause(service, observations);
  const runtime = Object.fromEntries(observed.map((o) => [o.service, o.runtime]));
  const supported = options.supports ?? DOCKER_ACTIONS;
  const ctx: PlanContext = {
    config: cfg,
    diagnosis: { runtime },
    supports: (name, action) => runtime[name] !== undefined && supported.includes(action),
  };
  return { rc, steps: planFor(rc, ctx) };
}

const healthyDb = () => observe('db', [OK], state('postgres'));
const automated = (steps: PlanStep[]) => steps.filter((s) => s.risk !== 'manual');

describe('scenario 1: the public layer is broken', () => {
  const { rc, steps } = plan([observe('api', [status(502), OK, OK], state('portfolio-backend')), healthyDb()]);

  it('never restarts anything', () => {
    expect(rc.kind).toBe('layer_broken');
    expect(steps).toHaveLength(1);
    expect(automated(steps)).toEqual([]);
    expect(steps.some((s) => s.action === 'restart' || s.action === 'start')).toBe(false);
  });

  it('the manual step names the route to add and says the backend is healthy', () => {
    expect(steps[0]).toMatchObject({ action: 'manual', risk: 'manual', target: 'api' });
    expect(steps[0].reason).toContain('route api.example.com → http://portfolio-nginx');
    expect(steps[0].reason).toContain('do not restart api, it is healthy');
  });
});

describe('scenario 2: the proxy layer is broken', () => {
  it('without an owner, escalates with no restart of the backend', () => {
    const { rc, steps } = plan([
      observe('api', [status(502), status(502), OK], state('portfolio-backend')),
      healthyDb(),
    ]);
    expect(rc).toMatchObject({ kind: 'layer_broken', layer: 'proxy' });
    expect(automated(steps)).toEqual([]);
    expect(steps[0].reason).toContain('do not restart api');
  });

  it('with a probe owner, restarting the proxy service is a risky step, never the backend', () => {
    const { rc, steps } = plan(
      [
        observe('owned-api', [status(502), status(502), OK], state('backend-2')),
        { service: 'nginx', probes: [], runtime: state('portfolio-nginx'), dependsOn: [] },
      ],
      'owned-api',
    );
    expect(rc).toMatchObject({ kind: 'layer_broken', layer: 'proxy' });
    expect(steps).toEqual([expect.objectContaining({ action: 'restart', target: 'nginx', risk: 'risky' })]);
    expect(steps[0].reason).toContain('the proxy layer (nginx) is broken');
  });

  it('an owner whose runtime was not read is a manual step', () => {
    const { steps } = plan([observe('owned-api', [status(502), status(502), OK], state('backend-2'))], 'owned-api');
    expect(steps).toEqual([expect.objectContaining({ action: 'manual', target: 'nginx' })]);
  });
});

describe('scenario 3: the container has exited', () => {
  it('starts it (risky: approval)', () => {
    const { rc, steps } = plan([
      observe(
        'api',
        [status(502), status(502), REFUSED],
        state('portfolio-backend', { status: 'exited', exitCode: 1 }),
      ),
      healthyDb(),
    ]);
    expect(rc.kind).toBe('service_down');
    expect(steps).toEqual([expect.objectContaining({ action: 'start', target: 'api', risk: 'risky' })]);
  });

  it('restarts it when the runtime cannot start', () => {
    const { steps } = plan(
      [
        observe('api', [status(502), status(502), REFUSED], state('portfolio-backend', { status: 'exited' })),
        healthyDb(),
      ],
      'api',
      { supports: ['restart'] },
    );
    expect(steps).toEqual([expect.objectContaining({ action: 'restart', risk: 'risky' })]);
  });

  it('unpauses a paused container', () => {
    const { steps } = plan([
      observe('api', [status(502), status(502), TIMEOUT], state('portfolio-backend', { status: 'paused' })),
      healthyDb(),
    ]);
    expect(steps).toEqual([expect.objectContaining({ action: 'unpause', risk: 'risky' })]);
  });
});

describe('scenario 4: running but not ready', () => {
  it.each([
    ['times out', TIMEOUT],
    ['answers 500', status(500)],
  ])('restarts (risky) when the probe %s', (_why, outcome) => {
    const { rc, steps } = plan([
      observe('api', [status(502), status(502), outcome], state('portfolio-backend')),
      healthyDb(),
    ]);
    expect(rc.kind).toBe('service_unhealthy');
    expect(steps).toEqual([expect.objectContaining({ action: 'restart', target: 'api', risk: 'risky' })]);
  });
});

describe('answers a restart does not fix', () => {
  it('a 4xx from a running backend is not restarted: manual', () => {
    const { rc, steps } = plan([
      observe('api', [status(404), status(404), status(404)], state('portfolio-backend')),
      healthyDb(),
    ]);
    expect(rc.kind).toBe('service_unhealthy');
    expect(automated(steps)).toEqual([]);
  });

  it('a container still starting is waited for, not restarted', () => {
    const { rc, steps } = plan([
      observe('api', [status(502), status(502), REFUSED], state('portfolio-backend', { health: 'starting' })),
      healthyDb(),
    ]);
    expect(rc.kind).toBe('recreating');
    expect(steps).toEqual([]);
  });
});

describe('scenario 5: healbot is blind', () => {
  it('changes nothing and names the network to join', () => {
    const { rc, steps } = plan([
      observe('api', [OK, dnsFail('portfolio-nginx'), dnsFail('portfolio-api.int')], state('portfolio-backend')),
      observe('db', [dnsFail('postgres')], state('postgres')),
    ]);
    expect(rc.kind).toBe('observer_blind');
    expect(automated(steps)).toEqual([]);
    expect(steps[0].reason).toContain('join healbot to the portfolio_default network');
    expect(steps[0].reason).toContain('changes nothing');
  });
});

describe('scenario 11: OOM-killed', () => {
  it('restart is risky and the reason says the memory limit and usage', () => {
    const { steps } = plan([
      observe(
        'api',
        [status(502), status(502), REFUSED],
        state('portfolio-backend', {
          status: 'exited',
          exitCode: 137,
          oomKilled: true,
          memory: { limitBytes: 128 * 1024 ** 2, usageBytes: 127 * 1024 ** 2 },
        }),
      ),
      healthyDb(),
    ]);
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ target: 'api', risk: 'risky' });
    expect(steps[0].reason).toContain('memory limit 128 MiB');
    expect(steps[0].reason).toContain('usage 127 MiB');
    expect(steps[0].reason).toContain('raise the memory limit');
  });
});

describe('scenario 12: a dependency is down', () => {
  it('heals the dependency, not the dependent', () => {
    const { rc, steps } = plan([
      observe('api', [status(503), status(503), status(503)], state('portfolio-backend')),
      observe('db', [REFUSED], state('postgres', { status: 'exited', exitCode: 1 })),
    ]);
    expect(rc).toMatchObject({ kind: 'dependency_down', layer: 'db' });
    expect(steps).toEqual([expect.objectContaining({ action: 'start', target: 'db', risk: 'risky' })]);
    expect(steps.some((s) => s.target === 'api')).toBe(false);
  });
});

describe('when healbot is unsure or cannot see', () => {
  it('low confidence gives a manual step only', () => {
    const strict = parseConfig({ services: { ...config.services }, healing: { confidenceThreshold: 0.99 } });
    const { rc, steps } = plan(
      [observe('api', [status(502), status(502), TIMEOUT], state('portfolio-backend')), healthyDb()],
      'api',
      { cfg: strict },
    );
    expect(rc.confidence).toBeLessThan(0.99);
    expect(steps).toEqual([expect.objectContaining({ action: 'manual', risk: 'manual' })]);
    expect(steps[0].reason).toMatch(/not sure \(confidence 0\.\d\d < 0\.99\)/);
  });

  it('unknown gives a manual step', () => {
    const cfg = parseConfig({ services: { api: {} } });
    const { rc, steps } = plan([{ service: 'api', probes: [], dependsOn: [] }], 'api', { cfg });
    expect(rc.kind).toBe('unknown');
    expect(steps).toEqual([expect.objectContaining({ action: 'manual' })]);
    expect(steps[0].reason).toContain('could not name a root cause');
  });

  it('an unreadable runtime never gets an automated step, even with a lax threshold', () => {
    const unreadable: RuntimeState = {
      runtime: 'docker',
      target: '?',
      status: 'unknown',
      error: 'permission denied on docker.sock',
    };
    for (const threshold of [0.6, 0.5]) {
      const cfg = parseConfig({ services: { ...config.services }, healing: { confidenceThreshold: threshold } });
      const { steps } = plan(
        [observe('api', [status(502), status(502), TIMEOUT], unreadable, cfg), healthyDb()],
        'api',
        { cfg },
      );
      expect(automated(steps), `threshold ${threshold}`).toEqual([]);
    }
  });

  it('a missing container is a manual step that says to recreate it', () => {
    const { steps } = plan([
      observe('api', [status(502), status(502), REFUSED], state('portfolio-backend', { status: 'missing' })),
      healthyDb(),
    ]);
    expect(steps).toEqual([expect.objectContaining({ action: 'manual', target: 'api' })]);
    expect(steps[0].reason).toContain('does not exist');
  });

  it('a service without a runtime cannot be restarted: manual', () => {
    const { steps } = plan([observe('api', [status(502), status(502), TIMEOUT]), healthyDb()]);
    expect(steps).toEqual([expect.objectContaining({ action: 'manual' })]);
    expect(steps[0].reason).toContain('no runtime configured');
  });

  it('healthy plans nothing', () => {
    expect(plan([observe('api', [OK, OK, OK], state('portfolio-backend')), healthyDb()]).steps).toEqual([]);
  });
});

describe('Kubernetes kinds', () => {
  const cfg = parseConfig({ services: { web: { kubernetes: { deployment: 'web', replicas: 3 } } } });
  const ctx = (supported: RuntimeAction['action'][]): PlanContext => ({
    config: cfg,
    diagnosis: { runtime: { web: { runtime: 'kubernetes', target: 'deployment/web', status: 'running' } } },
    supports: (_s, action) => supported.includes(action),
  });
  const rc = (kind: RootCause['kind']): RootCause => ({
    kind,
    service: 'web',
    summary: `web ${kind}`,
    confidence: 0.95,
    evidence: [],
  });

  it('scaled_to_zero scales back to the configured count', () => {
    expect(planFor(rc('scaled_to_zero'), ctx(['scale']))).toEqual([
      expect.objectContaining({ action: 'scale', risk: 'risky', params: { replicas: 3 } }),
    ]);
  });

  it('crash_loop is a rollout restart', () => {
    expect(planFor(rc('crash_loop'), ctx(['rollout_restart', 'restart']))).toEqual([
      expect.objectContaining({ action: 'rollout_restart', risk: 'risky' }),
    ]);
  });

  it.each(['image_pull_failed', 'no_endpoints'] as const)('%s is manual: restarting will not help', (kind) => {
    const steps = planFor(rc(kind), ctx(['rollout_restart', 'restart']));
    expect(steps).toEqual([expect.objectContaining({ action: 'manual' })]);
    expect(steps[0].reason).toContain('Restarting will not help');
  });

  it('recreating plans nothing', () => {
    expect(planFor(rc('recreating'), ctx(['rollout_restart']))).toEqual([]);
  });
});

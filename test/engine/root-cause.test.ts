import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { Observations, ServiceObservation } from '../../src/engine/observation.js';
import { describeMemory, determineRootCause, observerBlindness } from '../../src/engine/root-cause.js';
import { ROOT_CAUSE_KINDS, type ProbeResult, type RootCause, type RuntimeState } from '../../src/engine/types.js';
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

/**
 * The topology: api behind a public edge and a proxy, depending on db. Every test
 * builds synthetic observations of it; the rules are pure.
 */
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
    db: { docker: { container: 'postgres' }, probes: [{ name: 'internal', tcp: 'postgres:5432' }] },
  },
});

const observe = (
  service: string,
  outcomes: ProbeOutcome[],
  runtime?: RuntimeState,
  cfg: Config = config,
): ServiceObservation => observeWith(cfg, service, outcomes, runtime);

function observations(
  api: ServiceObservation,
  db: ServiceObservation,
  extra: Partial<Observations> = {},
): Observations {
  return { services: { api, db }, canaries: [], ...extra };
}

const healthyDb = () => observe('db', [OK], running('postgres'));

describe('healthy', () => {
  it('every layer and the runtime fine → healthy', () => {
    const rc = determineRootCause(
      'api',
      observations(observe('api', [OK, OK, OK], running('portfolio-backend')), healthyDb()),
    );
    expect(rc).toMatchObject({ kind: 'healthy', service: 'api' });
  });
});

describe('scenario 1: public 502, proxy ok, internal ok', () => {
  const rc = determineRootCause(
    'api',
    observations(observe('api', [status(502), OK, OK], running('portfolio-backend')), healthyDb()),
  );

  it('is layer_broken at the outermost failing layer, the public one', () => {
    expect(rc).toMatchObject({ kind: 'layer_broken', service: 'api', layer: 'public' });
    expect(rc.confidence).toBeGreaterThanOrEqual(0.9);
  });

  it('says the layers behind it are healthy and names the missing route', () => {
    expect(rc.summary).toContain('the public layer answers 502 while proxy and internal are healthy');
    expect(rc.summary).toContain('no working route for api.example.com to http://portfolio-nginx');
  });

  it('routesTo in the config phrases the route', () => {
    const cfg = parseConfig({
      services: {
        api: {
          probes: [
            { name: 'tunnel', http: 'https://api.example.com/ready', routesTo: 'http://api:8000' },
            { name: 'internal', http: 'http://api:8000/ready' },
          ],
        },
      },
    });
    const cause = determineRootCause('api', {
      services: { api: observe('api', [status(502), OK], running('api'), cfg) },
      canaries: [],
    });
    expect(cause.summary).toContain('route for api.example.com to http://api:8000');
  });
});

describe('scenario 2: public and proxy 502, internal ok', () => {
  it('is layer_broken at the proxy: the innermost failing layer whose inner layers are healthy', () => {
    const rc = determineRootCause(
      'api',
      observations(observe('api', [status(502), status(502), OK], running('portfolio-backend')), healthyDb()),
    );
    expect(rc).toMatchObject({ kind: 'layer_broken', layer: 'proxy' });
    expect(rc.summary).toContain('the proxy layer answers 502 while internal is healthy');
  });
});

describe('scenario 3: the container has exited', () => {
  it('is service_down with the exit code', () => {
    const rc = determineRootCause(
      'api',
      observations(
        observe(
          'api',
          [status(502), status(502), REFUSED],
          running('portfolio-backend', { status: 'exited', exitCode: 1 }),
        ),
        healthyDb(),
      ),
    );
    expect(rc).toMatchObject({ kind: 'service_down', service: 'api' });
    expect(rc.summary).toContain('has exited (code 1)');
    expect(rc.evidence.some((e) => e.source === 'runtime' && e.detail.includes('exit code 1'))).toBe(true);
  });

  it('refused connections without a runtime are service_down too', () => {
    const rc = determineRootCause(
      'api',
      observations(observe('api', [status(502), status(502), REFUSED]), healthyDb()),
    );
    expect(rc).toMatchObject({ kind: 'service_down', layer: 'internal' });
  });
});

describe('scenario 4: running but not ready', () => {
  it('a probe timing out is service_unhealthy', () => {
    const rc = determineRootCause(
      'api',
      observations(observe('api', [status(504), status(504), TIMEOUT], running('portfolio-backend')), healthyDb()),
    );
    expect(rc).toMatchObject({ kind: 'service_unhealthy', layer: 'internal' });
    expect(rc.summary).toContain('times out while its container is running');
    expect(rc.confidence).toBeGreaterThanOrEqual(0.8);
  });

  it('a 5xx is service_unhealthy', () => {
    const rc = determineRootCause(
      'api',
      observations(observe('api', [status(502), status(502), status(500)], running('portfolio-backend')), healthyDb()),
    );
    expect(rc).toMatchObject({ kind: 'service_unhealthy', layer: 'internal' });
    expect(rc.summary).toContain('answers 500');
  });

  it('probes fine but the runtime health check unhealthy is service_unhealthy', () => {
    const rc = determineRootCause(
      'api',
      observations(observe('api', [OK, OK, OK], running('portfolio-backend', { health: 'unhealthy' })), healthyDb()),
    );
    expect(rc.kind).toBe('service_unhealthy');
  });
});

describe('scenario 5: healbot cannot resolve internal names', () => {
  const blindApi = observe(
    'api',
    [OK, dnsFail('portfolio-nginx'), dnsFail('portfolio-api.int')],
    running('portfolio-backend'),
  );
  const blindDb = observe('db', [dnsFail('postgres')], running('postgres'));

  it('is observer_blind even though the public URL answers, naming the names and the network', () => {
    const rc = determineRootCause('api', observations(blindApi, blindDb));
    expect(rc).toMatchObject({ kind: 'observer_blind', service: 'api', layer: 'portfolio_default' });
    expect(rc.confidence).toBeGreaterThanOrEqual(0.9);
    expect(rc.summary).toContain('portfolio-nginx');
    expect(rc.summary).toContain('join healbot to the portfolio_default network');
    expect(rc.summary).toContain('Nothing was changed');
  });

  it('the configured observer network wins over the networks the runtime reports', () => {
    const rc = determineRootCause('api', observations(blindApi, blindDb, { observerNetwork: 'edge' }));
    expect(rc.summary).toContain('join healbot to the edge network');
  });

  it('a canary that does not resolve is enough', () => {
    const canary: ProbeResult = { service: 'healbot', name: 'canary:db', ms: 1, ...dnsFail('db') } as ProbeResult;
    const rc = observerBlindness(observations(observe('api', [OK, OK, OK]), healthyDb(), { canaries: [canary] }));
    expect(rc?.kind).toBe('observer_blind');
    expect(rc?.confidence).toBe(0.95);
  });

  it('a single DNS failure of a name whose container is not running is not blindness', () => {
    const rc = determineRootCause(
      'api',
      observations(
        observe('api', [OK, OK, OK], running('portfolio-backend')),
        observe('db', [dnsFail('postgres')], running('postgres', { status: 'exited', exitCode: 0 })),
      ),
    );
    expect(rc.kind).not.toBe('observer_blind');
  });
});

describe('scenario 11: OOM-killed', () => {
  it('is oom_killed and the summary says the memory limit and usage', () => {
    const state = running('portfolio-backend', {
      status: 'exited',
      exitCode: 137,
      oomKilled: true,
      memory: { limitBytes: 64 * 1024 ** 2, usageBytes: 63 * 1024 ** 2 },
    });
    const rc = determineRootCause(
      'api',
      observations(observe('api', [status(502), status(502), REFUSED], state), healthyDb()),
    );
    expect(rc.kind).toBe('oom_killed');
    expect(rc.summary).toContain('exit 137');
    expect(rc.summary).toContain('memory limit 64 MiB');
    expect(rc.summary).toContain('usage 63 MiB');
  });

  it('describeMemory says when no limit is set', () => {
    expect(describeMemory({ runtime: 'docker', target: 'a', status: 'exited' })).toBe('no memory limit set');
    expect(
      describeMemory({ runtime: 'docker', target: 'a', status: 'exited', memory: { limitBytes: 2 * 1024 ** 3 } }),
    ).toBe('memory limit 2.0 GiB');
  });
});

describe('scenario 12: a dependency is down', () => {
  const downDb = () => observe('db', [REFUSED], running('postgres', { status: 'exited', exitCode: 1 }));

  it('is dependency_down with layer = the dependency and its own cause underneath', () => {
    const rc = determineRootCause(
      'api',
      observations(observe('api', [status(503), status(503), status(503)], running('portfolio-backend')), downDb()),
    );
    expect(rc).toMatchObject({ kind: 'dependency_down', service: 'api', layer: 'db' });
    expect(rc.underlying).toMatchObject({ kind: 'service_down', service: 'db' });
    expect(rc.summary).toContain('its dependency db is down');
  });

  it('also when the dependent still answers', () => {
    const rc = determineRootCause(
      'api',
      observations(observe('api', [OK, OK, OK], running('portfolio-backend')), downDb()),
    );
    expect(rc).toMatchObject({ kind: 'dependency_down', layer: 'db' });
  });

  it('a dependency that cannot be observed at all is not blamed', () => {
    const rc = determineRootCause(
      'api',
      observations(observe('api', [status(503), status(503), status(503)], running('portfolio-backend')), {
        service: 'db',
        probes: [],
        dependsOn: [],
      }),
    );
    expect(rc.kind).toBe('service_unhealthy');
    expect(rc.service).toBe('api');
  });
});

describe('other runtime states', () => {
  const with500 = (state: RuntimeState) =>
    determineRootCause('api', observations(observe('api', [status(502), status(502), REFUSED], state), healthyDb()));

  it('restarting is crash_loop', () => {
    const rc = with500(running('portfolio-backend', { status: 'restarting', exitCode: 2, restartCount: 7 }));
    expect(rc.kind).toBe('crash_loop');
    expect(rc.summary).toContain('7 restarts');
  });

  it('paused and created are service_down', () => {
    expect(with500(running('portfolio-backend', { status: 'paused' })).summary).toContain('is paused');
    expect(with500(running('portfolio-backend', { status: 'created' })).summary).toContain('was never started');
  });

  it('a missing container is service_down saying it does not exist', () => {
    const rc = with500(running('portfolio-backend', { status: 'missing' }));
    expect(rc.kind).toBe('service_down');
    expect(rc.summary).toContain('does not exist');
  });

  it('an unreadable runtime caps the confidence and shows in the evidence', () => {
    const rc = with500({
      runtime: 'docker',
      target: '?',
      status: 'unknown',
      error: 'connect EACCES /var/run/docker.sock',
    });
    expect(rc.confidence).toBeLessThanOrEqual(0.5);
    expect(rc.evidence.map((e) => e.detail).join('\n')).toContain('EACCES');
  });
});

describe('unknown', () => {
  it('a service with neither probes nor a readable runtime is unknown', () => {
    const cfg = parseConfig({ services: { api: {} } });
    const rc = determineRootCause('api', { services: { api: observe('api', [], undefined, cfg) }, canaries: [] });
    expect(rc).toMatchObject({ kind: 'unknown', confidence: 0 });
  });

  it('a service that was not observed is unknown', () => {
    expect(determineRootCause('ghost', { services: {}, canaries: [] }).kind).toBe('unknown');
  });
});

describe('the vocabulary', () => {
  it('every kind the generic rules produce is in ROOT_CAUSE_KINDS', () => {
    const produced: RootCause['kind'][] = [
      'healthy',
      'layer_broken',
      'service_down',
      'service_unhealthy',
      'crash_loop',
      'oom_killed',
      'dependency_down',
      'observer_blind',
      'unknown',
    ];
    for (const kind of produced) expect(ROOT_CAUSE_KINDS).toContain(kind);
  });
});

describe('layer_broken with non-HTTP layers', () => {
  it('an inner TCP layer is named as host:port in the route, never "null"', () => {
    const cfg = parseConfig({
      services: {
        api: {
          probes: [
            { name: 'public', http: 'https://api.example.com/ready' },
            { name: 'internal', tcp: 'api:8000' },
          ],
        },
      },
    });
    const rc = determineRootCause('api', {
      services: { api: observe('api', [status(502), OK], running('api'), cfg) },
      canaries: [],
    });
    expect(rc).toMatchObject({ kind: 'layer_broken', layer: 'public' });
    expect(rc.summary).toContain('no working route for api.example.com to api:8000');
    expect(rc.summary).not.toContain('null');
  });

  it('an outer TCP layer is named by its host', () => {
    const cfg = parseConfig({
      services: {
        db: {
          probes: [
            { name: 'pooler', tcp: 'pgbouncer:6432' },
            { name: 'internal', tcp: 'postgres:5432' },
          ],
        },
      },
    });
    const rc = determineRootCause('db', {
      services: { db: observe('db', [REFUSED, OK], running('postgres'), cfg) },
      canaries: [],
    });
    expect(rc).toMatchObject({ kind: 'layer_broken', layer: 'pooler' });
    expect(rc.summary).toContain('for pgbouncer to postgres:5432');
  });
});

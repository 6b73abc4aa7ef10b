import { describe, expect, it } from 'vitest';
import { chooseRoute, DEFAULT_ROUTES, type Route } from '../../src/app-errors/routes.js';
import { classifyError, type ErrorClassification } from '../../src/classify/error-classifier.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const of = (category: ErrorClassification['category'], confidence: number): ErrorClassification => ({
  category,
  confidence,
  language: 'python',
  reason: 'test',
});

describe('the routing matrix', () => {
  it('has the design’s defaults: security blocks, timeout alerts, a dependency is healed, unknown and medium confidence open an issue, high confidence dispatches', () => {
    const route = (c: ErrorClassification) => chooseRoute(c, 'api').route.do;
    expect(route(of('security', 0.95))).toBe('block');
    expect(route(of('timeout', 0.95))).toBe('alert');
    expect(route(of('infrastructure', 0.92))).toBe('heal');
    expect(route(of('unknown', 0.3))).toBe('issue');
    expect(route(of('null_reference', 0.92))).toBe('dispatch');
    expect(route(of('null_reference', 0.6))).toBe('issue');
    expect(
      route(
        classifyError({
          type: 'AttributeError',
          message: "'NoneType' object has no attribute 'id'",
          platform: 'python',
        }),
      ),
    ).toBe('dispatch');
  });

  it('consults configured routes first, by category, confidence and service, then falls back to the defaults', () => {
    const routes: Route[] = [
      { when: { category: ['null_reference', 'type_mismatch'], services: ['billing'] }, do: 'issue' },
      { when: { minConfidence: 0.99 }, do: 'heal' },
    ];
    expect(chooseRoute(of('null_reference', 0.95), 'billing', routes)).toMatchObject({
      route: { do: 'issue' },
      index: 0,
      fromDefaults: false,
    });
    expect(chooseRoute(of('null_reference', 0.95), 'api', routes)).toMatchObject({
      route: { do: 'dispatch' },
      fromDefaults: true,
    });
    expect(chooseRoute(of('security', 0.995), 'api', routes).route.do).toBe('heal');
    expect(chooseRoute(of('security', 0.9), undefined, routes).route.do).toBe('block');
  });

  it('always ends in a catch-all, so every error gets a route', () => {
    expect(DEFAULT_ROUTES.at(-1)).toEqual({ when: {}, do: 'issue' });
  });
});

describe('routing configuration', () => {
  const services = { api: { command: { restart: ['true'] } } };

  it('reads routes, Sentry, Logfire and Alertmanager with their defaults', () => {
    const config = parseConfig({
      services,
      github: { repo: 'acme/shop', token: 'ghp_x' },
      routes: [{ when: { category: 'timeout', minConfidence: 0.5 }, do: 'issue' }],
      sentry: { clientSecret: 'abc', projects: { 'front-end': 'api' } },
      logfire: { secret: '0123456789abcdef0123' },
      alertmanager: { url: 'http://127.0.0.1:9093' },
    });
    expect(config.routes).toEqual([{ when: { category: 'timeout', minConfidence: 0.5 }, do: 'issue' }]);
    expect(config.sentry).toEqual({ clientSecret: 'abc', projects: { 'front-end': 'api' }, serviceTag: 'service' });
    expect(parseConfig({ services }).routes).toEqual([]);
  });

  it('names the field of every routing mistake', () => {
    const problems = (raw: Record<string, unknown>) => {
      try {
        parseConfig({ services, ...raw });
      } catch (error) {
        return (error as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
      }
      return [];
    };
    expect(problems({ routes: [{ when: { category: 'oops' }, do: 'issue' }] })[0]).toMatch(
      /^routes\[0\]\.when\.category/,
    );
    expect(problems({ routes: [{ when: {}, do: 'reboot' }] })[0]).toMatch(/^routes\[0\]\.do/);
    expect(problems({ routes: [{ when: { services: ['nope'] }, do: 'alert' }] })).toEqual([
      'routes[0].when.services[0]: unknown service "nope" (known: api)',
    ]);
    expect(problems({ routes: [{ when: {}, do: 'dispatch' }] })).toEqual([
      'routes[0].do: dispatch needs github: { repo, token } to be configured',
    ]);
    expect(problems({ sentry: { clientSecret: 'x', projects: { web: 'nope' } } })).toEqual([
      'sentry.projects.web: unknown service "nope" (known: api)',
    ]);
    expect(problems({ logfire: { secret: 'short' } })[0]).toMatch(/^logfire\.secret: must be at least 16 characters/);
  });
});

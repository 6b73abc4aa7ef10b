import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

/** The configuration issue 2 says must load as it is, kept in one fixture for every test that needs it. */
const ISSUE_EXAMPLE = readFileSync(new URL('../fixtures/issue-example.yml', import.meta.url), 'utf8');

/** Parses and returns the ConfigError, failing the test when parsing succeeds. */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but the config was accepted');
}

const paths = (error: ConfigError) => error.problems.map((p) => p.path);

const services = (body: Record<string, unknown>) => ({ services: body });

describe('the issue example', () => {
  it('loads as is, with defaults filled in', () => {
    const config = parseConfigText(ISSUE_EXAMPLE);
    expect(Object.keys(config.services)).toEqual(['api', 'db']);
    expect(config.services.api.docker).toEqual({ container: 'portfolio-backend' });
    expect(config.services.api.probes.map((p) => p.name)).toEqual(['public', 'proxy', 'internal']);
    expect(config.services.api.probes[1].http).toBe('http://portfolio-nginx/ready');
    expect(config.services.api.dependsOn).toEqual(['db']);
    expect(config.services.db.probes[0].tcp).toBe('postgres:5432');
    expect(config.services.db.probes[0].timeoutMs).toBe(5000);
    expect(config.healing.enabled).toBe(true);
    expect(config.breaker).toEqual({ threshold: 3, window: 3_600_000 });
    expect(config.services.api.policy.auto).toEqual([]);
  });

  it('loads from a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'healbot-config-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'healbot.yaml');
    writeFileSync(file, ISSUE_EXAMPLE);
    const config = await loadConfig(file, {});
    expect(config.services.db.docker?.container).toBe('postgres');
  });

  it('a missing file is a ConfigError that says so', async () => {
    await expect(loadConfig('/nonexistent/healbot.yaml', {})).rejects.toThrow(/file not found/);
    await expect(loadConfig('/nonexistent/healbot.yaml', {})).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('errors name the path', () => {
  it('a wrong type in a probe names services.api.probes[1].http', () => {
    const error = configError(() =>
      parseConfig(
        services({
          api: {
            probes: [
              { name: 'public', http: 'https://a.example/ready' },
              { name: 'proxy', http: 42 },
            ],
          },
        }),
      ),
    );
    expect(paths(error)).toContain('services.api.probes[1].http');
    expect(error.message).toContain('services.api.probes[1].http');
  });

  it('a non-http URL in a probe is refused with its path', () => {
    const error = configError(() => parseConfig(services({ api: { probes: [{ name: 'p', http: 'ftp://a/ready' }] } })));
    expect(paths(error)).toContain('services.api.probes[0].http');
  });

  it('a probe with two checks or none is refused', () => {
    const two = configError(() =>
      parseConfig(services({ api: { probes: [{ name: 'p', http: 'http://a/', tcp: 'a:1' }] } })),
    );
    expect(two.message).toMatch(/services\.api\.probes\[0\].*http and tcp/);
    const none = configError(() => parseConfig(services({ api: { probes: [{ name: 'p' }] } })));
    expect(none.message).toMatch(/needs one of http, tcp, dns or command/);
  });

  it('an unknown service in dependsOn names the index and the known services', () => {
    const error = configError(() => parseConfig(services({ api: { dependsOn: ['db'] }, web: {} })));
    expect(error.problems).toContainEqual({
      path: 'services.api.dependsOn[0]',
      message: 'unknown service "db" (known: api, web)',
    });
  });

  it('a dependency cycle prints the cycle a → b → a', () => {
    const error = configError(() => parseConfig(services({ a: { dependsOn: ['b'] }, b: { dependsOn: ['a'] } })));
    expect(error.message).toContain('dependency cycle: a → b → a');
    expect(paths(error)).toEqual(['services.a.dependsOn']);
  });

  it('scenario 14: a longer cycle is named in full', () => {
    const error = configError(() =>
      parseConfig(services({ gate: { dependsOn: ['app'] }, app: { dependsOn: ['db'] }, db: { dependsOn: ['gate'] } })),
    );
    expect(error.message).toContain('gate → app → db → gate');
  });

  it('a service depending on itself is refused', () => {
    const error = configError(() => parseConfig(services({ a: { dependsOn: ['a'] } })));
    expect(error.message).toMatch(/cannot depend on itself/);
  });

  it('an acyclic diamond is accepted', () => {
    const config = parseConfig(
      services({
        web: { dependsOn: ['api', 'auth'] },
        api: { dependsOn: ['db'] },
        auth: { dependsOn: ['db'] },
        db: {},
      }),
    );
    expect(config.services.web.dependsOn).toEqual(['api', 'auth']);
  });

  it('duplicate probe names are refused with both indexes', () => {
    const error = configError(() =>
      parseConfig(
        services({
          api: {
            probes: [
              { name: 'ready', http: 'http://a/' },
              { name: 'ready', tcp: 'a:80' },
            ],
          },
        }),
      ),
    );
    expect(error.problems).toContainEqual({
      path: 'services.api.probes[1].name',
      message: 'duplicate probe name "ready" (also probes[0])',
    });
  });

  it('a probe owner that is not a service is refused', () => {
    const error = configError(() =>
      parseConfig(services({ api: { probes: [{ name: 'proxy', http: 'http://a/', service: 'nginx' }] } })),
    );
    expect(paths(error)).toContain('services.api.probes[0].service');
  });

  it('unknown fields are named', () => {
    const error = configError(() => parseConfig(services({ api: { probes: [], restartPolicy: 'always' } })));
    expect(error.problems).toContainEqual({ path: 'services.api', message: 'unknown field restartPolicy' });
    const top = configError(() => parseConfig({ ...services({ api: {} }), healng: {} }));
    expect(top.message).toContain('unknown field healng');
  });

  it('no services at all is refused', () => {
    expect(configError(() => parseConfig({ services: {} })).message).toMatch(/needs at least one service/);
    expect(paths(configError(() => parseConfig({})))).toContain('services');
  });

  it('two runtimes on one service are refused', () => {
    const error = configError(() =>
      parseConfig(services({ api: { docker: { container: 'a' }, command: { restart: ['true'] } } })),
    );
    expect(error.message).toMatch(/docker and command/);
  });

  it('an empty command argv is refused', () => {
    const error = configError(() => parseConfig(services({ api: { command: { restart: [] } } })));
    expect(paths(error)).toContain('services.api.command.restart');
  });
});

describe('unsafe names are refused', () => {
  const unsafe = ['api;rm -rf /', '$(x)', '`id`', 'my api', '-rf', '../etc', 'a|b', 'a&b', 'a>b'];

  it.each(unsafe)('service name %j', (name) => {
    const error = configError(() => parseConfig(services({ [name]: {} })));
    expect(paths(error)).toContain(`services.${name}`);
    expect(error.message).toMatch(/must start with a letter or digit/);
  });

  it.each(unsafe)('container name %j', (name) => {
    const error = configError(() => parseConfig(services({ api: { docker: { container: name } } })));
    expect(paths(error)).toContain('services.api.docker.container');
  });

  it.each(unsafe)('probe name %j', (name) => {
    const error = configError(() => parseConfig(services({ api: { probes: [{ name, http: 'http://a/' }] } })));
    expect(paths(error)).toContain('services.api.probes[0].name');
  });

  it.each(unsafe)('dependsOn entry %j', (name) => {
    const error = configError(() => parseConfig(services({ api: { dependsOn: [name] } })));
    expect(paths(error)).toContain('services.api.dependsOn[0]');
  });

  it('kubernetes names too', () => {
    const error = configError(() =>
      parseConfig(services({ api: { kubernetes: { deployment: 'api$(x)', namespace: 'a b' } } })),
    );
    expect(paths(error)).toEqual(
      expect.arrayContaining(['services.api.kubernetes.deployment', 'services.api.kubernetes.namespace']),
    );
  });

  it('safe names with dots, dashes and underscores pass', () => {
    const config = parseConfig(
      services({
        'api-v2.prod_1': {
          docker: { container: 'portfolio-backend_1.x' },
          probes: [{ name: 'ready-1', http: 'http://a/' }],
        },
      }),
    );
    expect(Object.keys(config.services)).toEqual(['api-v2.prod_1']);
  });
});

describe('YAML', () => {
  it('broken YAML reports line and column', () => {
    const text = 'services:\n  api:\n    probes: [ { name: a, http: "http://a/" }\n  db: {}\n';
    const error = configError(() => parseConfigText(text, {}, 'healbot.yaml'));
    expect(error.message).toMatch(/^healbot\.yaml: line \d+, column \d+: invalid YAML/);
  });

  it('a bad indentation points at its line', () => {
    const text = 'services:\n  api:\n    docker: { container: a }\n   probes: []\n';
    const error = configError(() => parseConfigText(text));
    expect(error.problems[0].path).toMatch(/^line [34], column \d+$/);
  });

  it('duplicate keys are refused', () => {
    const text = 'services:\n  api: {}\n  api: {}\n';
    const error = configError(() => parseConfigText(text));
    expect(error.message).toMatch(/invalid YAML/);
  });
});

describe('environment interpolation', () => {
  const text = `
services:
  api:
    probes:
      - { name: public, http: "https://\${API_HOST}/ready" }
      - { name: internal, http: "http://\${INTERNAL_HOST:-api}:8000/ready" }
slack:
  botToken: \${SLACK_BOT_TOKEN}
`;

  it('replaces ${VAR} and ${VAR:-default}', () => {
    const config = parseConfigText(text, { API_HOST: 'api.example.com', SLACK_BOT_TOKEN: 'xoxb-123' });
    expect(config.services.api.probes[0].http).toBe('https://api.example.com/ready');
    expect(config.services.api.probes[1].http).toBe('http://api:8000/ready');
    expect(config.slack?.botToken).toBe('xoxb-123');
  });

  it('a set variable wins over the default', () => {
    const config = parseConfigText(text, { API_HOST: 'a.example', INTERNAL_HOST: 'backend', SLACK_BOT_TOKEN: 'x' });
    expect(config.services.api.probes[1].http).toBe('http://backend:8000/ready');
  });

  it('a missing variable names the variable and the path', () => {
    const error = configError(() => parseConfigText(text, { API_HOST: 'a.example' }));
    expect(error.problems).toEqual([
      { path: 'slack.botToken', message: 'environment variable SLACK_BOT_TOKEN is not set' },
    ]);
  });

  it('the values are not interpreted as YAML or interpolated twice', () => {
    const config = parseConfigText(text, { API_HOST: 'a.example', SLACK_BOT_TOKEN: '${API_HOST}: [x]' });
    expect(config.slack?.botToken).toBe('${API_HOST}: [x]');
  });
});

describe('durations', () => {
  it('accepts units and plain milliseconds', () => {
    const config = parseConfig({
      services: {
        api: {
          probes: [{ name: 'p', http: 'http://a/', timeoutMs: '250ms' }],
          policy: { cooldown: '5m', breaker: { window: '1h' } },
        },
      },
      healing: { verifyTimeout: '30s', approvalTimeout: 1500 },
      monitor: { interval: '1.5s' },
    });
    expect(config.services.api.probes[0].timeoutMs).toBe(250);
    expect(config.services.api.policy.cooldown).toBe(300_000);
    expect(config.services.api.policy.breaker?.window).toBe(3_600_000);
    expect(config.healing.verifyTimeout).toBe(30_000);
    expect(config.healing.approvalTimeout).toBe(1500);
    expect(config.monitor.interval).toBe(1500);
  });

  it('refuses a bad duration with its path and an example', () => {
    const error = configError(() => parseConfig({ services: { api: {} }, healing: { verifyTimeout: 'soon' } }));
    expect(error.problems).toEqual([
      { path: 'healing.verifyTimeout', message: '"soon" is not a duration (use e.g. 500ms, 30s, 5m, 1h)' },
    ]);
  });

  it('refuses negative numbers', () => {
    const error = configError(() => parseConfig({ services: { api: {} }, healing: { verifyTimeout: -5 } }));
    expect(paths(error)).toEqual(['healing.verifyTimeout']);
  });
});

describe('policy defaults', () => {
  it('every service inherits the top-level policy and may override it field by field', () => {
    const config = parseConfig({
      policy: { auto: ['start', 'restart'], cooldown: '30s', approvers: ['U0ONCALL'] },
      services: { api: { probes: [] }, db: { policy: { auto: [], twoApprovers: true } } },
    });
    expect(config.services.api.policy).toEqual({
      auto: ['start', 'restart'],
      approvers: ['U0ONCALL'],
      twoApprovers: false,
      cooldown: 30_000,
    });
    expect(config.services.db.policy).toEqual({
      auto: [],
      approvers: ['U0ONCALL'],
      twoApprovers: true,
      cooldown: 30_000,
    });
    expect(config.policy.auto).toEqual(['start', 'restart']);
  });

  it('without a top-level policy, services keep the defaults: nothing automatic', () => {
    expect(parseConfig(services({ api: {} })).services.api.policy.auto).toEqual([]);
  });

  it('names a bad top-level policy once, at its own path', () => {
    const error = configError(() => parseConfig({ policy: { auto: ['reboot'] }, services: { api: {}, db: {} } }));
    expect(paths(error)).toEqual(['policy.auto[0]']);
    expect(error.problems[0].message).toMatch(/restart/);
  });
});

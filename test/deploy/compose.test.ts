/**
 * examples/docker-compose.yml, checked by Debian's docker-compose (`config` validates and
 * resolves it without starting anything) and against examples/healbot.yml and the Dockerfile.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { parseListen } from '../../src/serve.js';
import { requireOrSkip } from '../support/docker-engine.js';
import { REPO_ROOT } from '../support/node-image.js';

const COMPOSE = '/usr/bin/docker-compose';
const FILE = join(REPO_ROOT, 'examples/docker-compose.yml');
const skip = !existsSync(COMPOSE) && requireOrSkip(`${COMPOSE} is missing (run .ci/install-compose.sh)`);
const TOKEN = 'compose-test-token-0123456789abcdef';

const composeConfig = (env: Record<string, string>, file = FILE) =>
  execa(COMPOSE, ['-f', file, 'config'], {
    reject: false,
    extendEnv: false,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    timeout: 60_000,
  });

interface ComposeService {
  image?: string;
  volumes?: string[];
  environment?: Record<string, string>;
  group_add?: string[];
  ports?: string[];
}

describe.skipIf(skip)('examples/docker-compose.yml', () => {
  it('is valid for docker-compose, and puts the socket, config and state where healbot needs them', async () => {
    const result = await composeConfig({ HEALBOT_TOKEN: TOKEN, DOCKER_GID: '998' });
    expect(result.exitCode, result.stderr).toBe(0);
    const { services, volumes } = parse(result.stdout) as {
      services: Record<string, ComposeService>;
      volumes: Record<string, unknown>;
    };
    const healbot = services.healbot;
    const mounts = (service: ComposeService) => (service.volumes ?? []).map((v) => v.split(':'));

    const withSocket = Object.entries(services).filter(([, s]) =>
      mounts(s).some(([source]) => source === '/var/run/docker.sock'),
    );
    expect(withSocket.map(([name]) => name)).toEqual(['healbot']);
    expect(healbot.group_add).toEqual(['998']);
    expect(healbot.environment?.HEALBOT_TOKEN).toBe(TOKEN);

    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const configPath = /^CMD \["serve", "--config", "([^"]+)"\]$/m.exec(dockerfile)?.[1];
    expect(configPath).toBe('/etc/healbot/healbot.yml');
    expect(mounts(healbot)).toContainEqual([join(REPO_ROOT, 'examples/healbot.yml'), configPath, 'ro']);

    const config = parseConfigText(readFileSync(join(REPO_ROOT, 'examples/healbot.yml'), 'utf8'), {
      HEALBOT_TOKEN: TOKEN,
    });
    const stateMount = mounts(healbot).find(([, target]) => target === dirname(config.store.path));
    expect(stateMount?.[0]).toBe('healbot-state');
    expect(volumes).toHaveProperty('healbot-state');
    const { port } = parseListen(config.server!.listen);
    expect(healbot.ports?.some((p) => p.split('/')[0].endsWith(`:${port}`))).toBe(true);

    // What healbot.yml watches and probes exists in the compose file.
    for (const [name, service] of Object.entries(config.services)) {
      expect(Object.keys(services), `services.${name}.docker.labels`).toContain(
        service.docker?.labels?.['com.docker.compose.service'],
      );
      for (const probe of service.probes) {
        const url = typeof probe.http === 'string' ? probe.http : probe.http?.url;
        if (url)
          expect(Object.keys(services), `services.${name}.probes.${probe.name}`).toContain(new URL(url).hostname);
      }
    }
    expect(config.observer.canary.every((name) => name in services)).toBe(true);
  });

  it('refuses to start without HEALBOT_TOKEN, saying so', async () => {
    const result = await composeConfig({});
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain('HEALBOT_TOKEN');
  });
});

const HA_FILE = join(REPO_ROOT, 'examples/docker-compose.ha.yml');

describe.skipIf(skip)('examples/docker-compose.ha.yml', () => {
  const env = { HEALBOT_TOKEN: TOKEN, HEALBOT_DB_PASSWORD: 'db-password-0123456789', DOCKER_GID: '998' };

  it('runs two healbots on one Postgres, each named by its hostname, with the config that keeps state there', async () => {
    const result = await composeConfig(env, HA_FILE);
    expect(result.exitCode, result.stderr).toBe(0);
    const { services, volumes } = parse(result.stdout) as {
      services: Record<
        string,
        ComposeService & { hostname?: string; depends_on?: Record<string, { condition: string }> }
      >;
      volumes: Record<string, unknown>;
    };
    const replicas = Object.entries(services).filter(([, s]) => s.image === services['healbot-1']?.image);
    expect(replicas.map(([name]) => name).sort()).toEqual(['healbot-1', 'healbot-2']);
    expect(replicas.map(([, s]) => s.hostname).sort()).toEqual(['healbot-1', 'healbot-2']);
    const ports = replicas.map(([, s]) => s.ports?.[0]);
    expect(new Set(ports).size).toBe(2);

    const postgres = services.postgres;
    expect(postgres.volumes?.some((v) => v.split(':')[0] === 'healbot-postgres')).toBe(true);
    expect(volumes).toHaveProperty('healbot-postgres');
    for (const [name, replica] of replicas) {
      expect(replica.depends_on?.postgres?.condition, name).toBe('service_healthy');
      const url = new URL(replica.environment!.HEALBOT_STORE_URL);
      expect(url.hostname).toBe('postgres');
      expect(url.username).toBe(postgres.environment!.POSTGRES_USER);
      expect(decodeURIComponent(url.password)).toBe(postgres.environment!.POSTGRES_PASSWORD);
      expect(url.pathname.slice(1)).toBe(postgres.environment!.POSTGRES_DB);
      expect(replica.volumes).toContain(`${join(REPO_ROOT, 'examples/healbot-ha.yml')}:/etc/healbot/healbot.yml:ro`);
      const config = parseConfigText(readFileSync(join(REPO_ROOT, 'examples/healbot-ha.yml'), 'utf8'), {
        ...replica.environment!,
        HOSTNAME: replica.hostname!,
      });
      expect(config.store.url).toBe(replica.environment!.HEALBOT_STORE_URL);
      expect(config.leaderElection).toBeUndefined();
      expect(Object.keys(config.services)).toEqual(
        Object.keys(parseConfigText(readFileSync(join(REPO_ROOT, 'examples/healbot.yml'), 'utf8'), env).services),
      );
    }
  });

  it('refuses to start without the database password, saying so', async () => {
    const result = await composeConfig({ HEALBOT_TOKEN: TOKEN }, HA_FILE);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain('HEALBOT_DB_PASSWORD');
  });
});

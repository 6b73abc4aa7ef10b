import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealbot, loadRuntimes, type Healbot } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import {
  dockerEngineUnavailableReason,
  requireOrSkip,
  startDockerEngine,
  type DockerEngine,
} from '../support/docker-engine.js';
import {
  commands,
  ensureTestImage,
  removeTestContainers,
  runContainer,
  uniqueName,
  waitForContainer,
} from '../support/images.js';

/**
 * Each built-in failure pattern, written by a real container on a real dockerd as its last
 * words before it exits: healbot must name the pattern, its confidence, and the right plan.
 */
const engine = await startDockerEngine();
const skip = !engine && requireOrSkip(dockerEngineUnavailableReason());

interface Case {
  line: string;
  pattern: string;
  confidence: number;
  /** A restart helps for these: the plan starts the container; otherwise the plan is manual. */
  restart?: boolean;
  subject?: string;
}

const CASES: Record<string, Case> = {
  disk: { line: 'write /data/app.log: No space left on device', pattern: 'disk_full', confidence: 0.9 },
  port: {
    line: 'Error: listen EADDRINUSE: address already in use :::8080',
    pattern: 'address_in_use',
    confidence: 0.85,
    subject: ':::8080',
  },
  files: {
    line: 'http: Accept error: accept tcp [::]:80: accept4: too many open files',
    pattern: 'too_many_open_files',
    confidence: 0.85,
    restart: true,
  },
  perms: { line: 'open /var/lib/app/data.db: permission denied', pattern: 'permission_denied', confidence: 0.75 },
  refused: {
    line: 'dial tcp db:5432: connect: connection refused',
    pattern: 'connection_refused',
    confidence: 0.8,
    subject: 'db:5432',
  },
  dns: { line: 'Error: getaddrinfo ENOTFOUND redis', pattern: 'dns_failure', confidence: 0.8, subject: 'redis' },
  tls: {
    line: 'x509: certificate has expired or is not yet valid',
    pattern: 'tls_certificate_expired',
    confidence: 0.9,
  },
  env: {
    line: 'Error: environment variable DATABASE_URL is not set',
    pattern: 'missing_config',
    confidence: 0.85,
    subject: 'DATABASE_URL',
  },
  alembic: { line: 'FAILED: Target database is not up to date.', pattern: 'pending_migration', confidence: 0.9 },
  prisma: {
    line: 'Following migration have not yet been applied: 20240101_init',
    pattern: 'pending_migration',
    confidence: 0.9,
  },
  django: {
    line: 'You have 3 unapplied migration(s). Your project may not work properly until you apply the migrations for app(s): auth.',
    pattern: 'pending_migration',
    confidence: 0.9,
  },
  rails: {
    line: 'ActiveRecord::PendingMigrationError: Migrations are pending. To resolve this issue, run: bin/rails db:migrate',
    pattern: 'pending_migration',
    confidence: 0.9,
  },
  flyway: {
    line: 'org.flywaydb.core.api.exception.FlywayValidateException: Validate failed: Migrations have failed validation',
    pattern: 'pending_migration',
    confidence: 0.9,
  },
  jsheap: {
    line: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
    pattern: 'js_heap_oom',
    confidence: 0.9,
    restart: true,
  },
  javaheap: {
    line: 'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space',
    pattern: 'java_heap_oom',
    confidence: 0.9,
    restart: true,
  },
  python: { line: 'MemoryError', pattern: 'python_memory_error', confidence: 0.85, restart: true },
  custom: { line: 'license key expired on 2026-01-01', pattern: 'license_expired', confidence: 0.95 },
};

describe.skipIf(skip)('failure patterns from real containers', () => {
  let docker: Dockerode;
  let bot: Healbot;
  const names: Record<string, string> = {};

  beforeAll(async () => {
    docker = (engine as DockerEngine).docker;
    const host = (engine as DockerEngine).host;
    await ensureTestImage(docker);
    await Promise.all(
      Object.entries(CASES).map(async ([service, c]) => {
        names[service] = uniqueName(`pattern-${service}`);
        // The failing line comes after ordinary start-up chatter, on stderr like a real crash.
        await runContainer(docker, {
          name: names[service],
          cmd: commands.exitWith(1, ['starting up', 'config loaded', `!${c.line}`]),
        });
      }),
    );
    await Promise.all(
      Object.values(names).map((name) => waitForContainer(docker, name, (info) => info.State.Status === 'exited')),
    );
    const config = parseConfig({
      services: Object.fromEntries(
        Object.keys(CASES).map((service) => [service, { docker: { container: names[service], host } }]),
      ),
      patterns: [
        {
          id: 'license_expired',
          match: 'license key expired',
          confidence: 0.95,
          advice: 'renew the license in the vault',
        },
      ],
    });
    await loadRuntimes(config);
    bot = createHealbot(config, { storePath: ':memory:' });
  });

  afterAll(async () => {
    await bot?.close();
    if (docker) await removeTestContainers(docker);
  });

  it('names each pattern with its confidence, puts it in evidence and summary, and plans accordingly', async () => {
    const reports = await Promise.all(
      Object.keys(CASES).map((service) => bot.api.heal({ service, source: 'cli', dryRun: true })),
    );
    for (const report of reports) {
      const c = CASES[report.service];
      const rc = report.rootCause;
      expect(rc.kind, report.service).toBe('service_down');
      expect(rc.pattern, report.service).toMatchObject({ id: c.pattern, confidence: c.confidence, source: 'logs' });
      expect(rc.pattern?.line).toBe(c.line);
      if (c.subject) expect(rc.pattern?.subject, report.service).toBe(c.subject);
      expect(rc.summary, report.service).toContain(
        `its last logs say '${c.line}' (pattern ${c.pattern}, confidence ${c.confidence})`,
      );
      expect(rc.evidence.map((e) => e.detail)).toContain(
        `its last logs say '${c.line}' (pattern ${c.pattern}, confidence ${c.confidence})`,
      );
      if (c.restart) {
        expect(report.plan, report.service).toEqual([
          expect.objectContaining({ action: 'start', target: report.service, risk: 'risky' }),
        ]);
      } else {
        expect(report.plan, report.service).toEqual([expect.objectContaining({ action: 'manual', risk: 'manual' })]);
        expect(report.plan[0].reason).toContain(`(pattern ${c.pattern})`);
      }
    }
    const disk = reports.find((r) => r.service === 'disk')!;
    expect(disk.summary).toBe(`${disk.rootCause.summary}; nothing was restarted`);
    expect(disk.rootCause.summary).toMatch(
      /has exited \(code 1\): its last logs say 'write \/data\/app\.log: No space left on device' \(pattern disk_full, confidence 0\.9\); .*a restart will not help$/,
    );
    expect(reports.find((r) => r.service === 'custom')!.plan[0].reason).toBe(
      'renew the license in the vault (pattern license_expired)',
    );
  });
});

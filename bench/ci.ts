/**
 * CI failure reading: how fast a failed job's log is classified, and how fast a GitHub
 * delivery's signature is verified, so a burst of workflow_run deliveries stays cheap.
 *
 * 1. A 5,000-line job log (GitHub's timestamped format) whose failure is on its last lines:
 *    timestamps stripped, every line tried against every pattern; ms per log and lines per second.
 * 2. X-Hub-Signature-256 over a 20 KB workflow_run body: verifications per second.
 */
import { createHmac } from 'node:crypto';
import { classifyCiLog, logLinesOf } from '../src/engine/ci/patterns.js';
import { verifyGitHubSignature } from '../src/server/github-webhook.js';

const LOG_LINES = 5000;
const ROUNDS = 50;
const SIGNATURES = 20_000;

function jobLog(): string {
  const lines: string[] = [];
  for (let i = 0; i < LOG_LINES - 3; i++)
    lines.push(
      `2026-11-30T12:00:${String(i % 60).padStart(2, '0')}.0000000Z added ${i} packages, and audited ${i * 3} packages in 4s`,
    );
  lines.push(
    '2026-11-30T12:01:00.0000000Z npm ERR! code ETIMEDOUT',
    '2026-11-30T12:01:00.0000000Z npm ERR! network request to https://registry.npmjs.org/express failed, reason: connect ETIMEDOUT 104.16.0.35:443',
    '2026-11-30T12:01:00.0000000Z ##[error]Process completed with exit code 1.',
  );
  return lines.join('\n');
}

/** Figures for `npm run bench`. */
export async function benchCi(): Promise<Record<string, number | string>> {
  const text = jobLog();
  let matched = '';
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) matched = classifyCiLog(logLinesOf(text))?.id ?? 'none';
  const perLog = (performance.now() - started) / ROUNDS;

  const secret = 'bench-webhook-secret';
  const body = Buffer.from(
    JSON.stringify({
      action: 'completed',
      workflow_run: { id: 1, conclusion: 'failure' },
      padding: 'x'.repeat(20_000),
    }),
  );
  const header = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  let valid = 0;
  const t0 = performance.now();
  for (let i = 0; i < SIGNATURES; i++) if (verifyGitHubSignature(body, header, secret)) valid += 1;
  const seconds = (performance.now() - t0) / 1000;
  return {
    'ci log lines classified': LOG_LINES,
    'ci pattern found': matched,
    'ci ms per 5k-line log': perLog.toFixed(2),
    'ci log lines per second': Math.round(LOG_LINES / (perLog / 1000)),
    'webhook signatures verified per s': Math.round(valid / seconds),
  };
}

/**
 * Application errors in: the classifier over the corpus, and signed Sentry deliveries through an
 * in-process `healbot serve` (verification, parsing, classification, an incident per error).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyError } from '../src/classify/error-classifier.js';
import { parseConfig } from '../src/config/load.js';
import { startServe } from '../src/serve.js';

const ROUNDS = 200;
const DELIVERIES = 2_000;
const CONCURRENCY = 10;
const SECRET = 'bench-sentry-client-secret-0123456789';

const fixture = (path: string) =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/${path}`, import.meta.url), 'utf8'));
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Classifications per second over the corpus, and the mean time of one. */
function benchClassifier(): Record<string, number | string> {
  const corpus: { type?: string; message: string }[] = fixture('errors/corpus.json').errors;
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) for (const entry of corpus) classifyError(entry);
  const ms = performance.now() - started;
  const count = ROUNDS * corpus.length;
  return {
    'classifier errors/s': Math.round(count / (ms / 1000)),
    'classifier µs per error': ((ms * 1000) / count).toFixed(1),
  };
}

async function benchSentryWebhook(): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'healbot-bench-errors-'));
  const config = parseConfig({
    services: { api: { command: { restart: ['true'] } } },
    server: { listen: '127.0.0.1:0', token: 'bench-token-0123456789abcdef' },
    store: { path: join(dir, 'healbot.db') },
    sentry: { clientSecret: SECRET, projects: { '1': 'api' } },
  });
  const bot = await startServe(config, {
    console: false,
    monitoring: false,
    logWrite: () => undefined,
    logLevel: 'warn',
  });
  const template = fixture('sentry/error.json');
  template.data.error.exception.values[0].type = 'requests.exceptions.ReadTimeout';
  template.data.error.exception.values[0].value = 'Read timed out. (read timeout=10)';
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < DELIVERIES) {
      next += 1;
      template.data.error.event_id = randomUUID().replace(/-/g, '');
      const body = JSON.stringify(template);
      const sent = performance.now();
      const res = await fetch(`${bot.url}/webhooks/sentry`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'request-id': randomUUID(),
          'sentry-hook-resource': 'error',
          'sentry-hook-signature': createHmac('sha256', SECRET).update(body).digest('hex'),
        },
        body,
      });
      await res.arrayBuffer();
      latencies.push(performance.now() - sent);
      if (res.status !== 202) failures += 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  await bot.errorRouter.idle();
  const incidents = (await bot.bot.store.listIncidents({ limit: DELIVERIES * 2 })).length;
  await bot.close();
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return {
    'sentry deliveries': DELIVERIES,
    'sentry deliveries/s': Math.round(DELIVERIES / seconds),
    'sentry p50 ms': percentile(latencies, 50).toFixed(1),
    'sentry p99 ms': percentile(latencies, 99).toFixed(1),
    'sentry refused': failures,
    'incidents opened': incidents,
  };
}

export async function benchAppErrors(): Promise<Record<string, number | string>> {
  return { ...benchClassifier(), ...(await benchSentryWebhook()) };
}

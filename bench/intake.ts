/**
 * The intake, open-loop: `healbot serve` in its own process (the built CLI, a SQLite file
 * store), and this process as the load generator, sending Alertmanager webhooks of 25 alerts
 * over 20 services at a fixed rate for 10 s whatever the answers do. Latency is measured from
 * when each request was due, so a stalled server cannot hide its queue (no coordinated
 * omission). Prints p50/p99/max latency, errors and the serve process's peak RSS per rate.
 *
 * Targets (issue 11): 4,000 alerts/s with p99 <= 50 ms and 0 errors; 8,000 alerts/s for 10 s
 * with 0 errors; peak RSS <= 150 MB.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../src/free-port.js';

const SERVICES = 20;
const ALERTS_PER_REQUEST = 25;
/** HEALBOT_BENCH_RATES="4000" runs one rate. */
const RATES = (process.env.HEALBOT_BENCH_RATES ?? '2000,4000,8000').split(',').map(Number);
const SECONDS = 10;
/** A request still unanswered this long after the run is an error. */
const GRACE_MS = 10_000;
const TOKEN = 'bench-intake-token-0123456789abcdef';
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** The resident set of a process, from /proc (Linux), in bytes. */
function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process has used, from /proc (Linux), in ms. */
function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

interface RateResult {
  rate: number;
  sent: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  peakRssMiB: number;
  /** CPU the serve process spent per request: what the rate costs, whatever else runs on the machine. */
  cpuMsPerRequest: number;
}

async function waitForHealth(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`healbot serve exited (${child.exitCode}): ${output()}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`healbot serve did not answer /healthz: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One rate for SECONDS, open loop. */
async function drive(port: number, pid: number, rate: number, runId: string): Promise<RateResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const perSecond = rate / ALERTS_PER_REQUEST;
  const total = Math.round(perSecond * SECONDS);
  const intervalMs = 1000 / perSecond;
  const startsAt = new Date().toISOString();
  const latencies: number[] = [];
  let errors = 0;
  let peakRss = rssOf(pid);
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(pid))), 50);
  const inFlight: Promise<void>[] = [];
  const cpuBefore = cpuMsOf(pid);
  const start = performance.now();
  let alert = 0;
  const send = (due: number) => {
    const alerts = [];
    for (let a = 0; a < ALERTS_PER_REQUEST; a++, alert++) {
      alerts.push({
        status: 'firing',
        labels: { alertname: 'Down', service: `svc${alert % SERVICES}`, instance: `i${alert}` },
        annotations: { summary: `instance ${alert} down` },
        startsAt,
        endsAt: '0001-01-01T00:00:00Z',
        fingerprint: `${runId}-${rate}-${alert}`,
      });
    }
    const body = JSON.stringify({
      version: '4',
      status: 'firing',
      receiver: 'healbot',
      groupKey: '{}',
      groupLabels: {},
      commonLabels: {},
      commonAnnotations: {},
      externalURL: 'http://127.0.0.1:9093',
      alerts,
    });
    inFlight.push(
      new Promise<void>((resolve) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/webhooks/alertmanager',
            method: 'POST',
            agent,
            headers: {
              authorization: `Bearer ${TOKEN}`,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 202) latencies.push(performance.now() - due);
              else errors += 1;
              resolve();
            });
          },
        );
        req.setTimeout(SECONDS * 1000 + GRACE_MS, () => req.destroy(new Error('timed out')));
        req.on('error', () => {
          errors += 1;
          resolve();
        });
        req.end(body);
      }),
    );
  };
  // Sends every request at its due time; the timer only wakes the loop up.
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * intervalMs <= now) {
        send(start + next * intervalMs);
        next += 1;
      }
      if (next >= total) resolve();
      else setTimeout(tick, Math.max(0, Math.min(intervalMs, start + next * intervalMs - performance.now())));
    };
    tick();
  });
  await Promise.all(inFlight);
  const cpuMs = cpuMsOf(pid) - cpuBefore;
  clearInterval(sampler);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const round = (v: number) => Number(v.toFixed(1));
  return {
    rate,
    sent: total * ALERTS_PER_REQUEST,
    p50: round(percentile(latencies, 50)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies.at(-1) ?? Number.NaN),
    errors,
    peakRssMiB: Math.round(peakRss / 1024 / 1024),
    cpuMsPerRequest: round(cpuMs / total),
  };
}

/** `npm run bench` calls this through bench/run.ts. */
export async function benchIntakeOpenLoop(): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'healbot-bench-intake-'));
  const backend = createServer((_req, res) => res.writeHead(500).end('down'));
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const backendPort = (backend.address() as { port: number }).port;
  const port = await freePort();
  const services = Object.fromEntries(
    Array.from({ length: SERVICES }, (_, i) => [
      `svc${i}`,
      { probes: [{ name: 'internal', http: `http://127.0.0.1:${backendPort}/ready` }] },
    ]),
  );
  const configFile = join(dir, 'healbot.yml');
  writeFileSync(
    configFile,
    stringify({
      server: { listen: `127.0.0.1:${port}`, token: '${HEALBOT_TOKEN}' },
      store: { path: join(dir, 'healbot.db') },
      monitor: { interval: '1h', dockerEvents: false },
      services,
    }),
  );
  let output = '';
  // HEALBOT_BENCH_NODE_ARGS="--cpu-prof" profiles the serve process.
  const nodeArgs = process.env.HEALBOT_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'serve', '--config', configFile], {
    env: { ...process.env, HEALBOT_TOKEN: TOKEN, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output = (output + String(chunk)).slice(-2000)));
  child.stderr!.on('data', (chunk) => (output = (output + String(chunk)).slice(-2000)));
  const figures: Record<string, number | string> = {};
  try {
    await waitForHealth(port, child, () => output);
    const runId = Date.now().toString(36);
    figures.open_loop_idle_rss_mib = Math.round(rssOf(child.pid!) / 1024 / 1024);
    figures.open_loop_machine_load_1min = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    for (const rate of RATES) {
      const r = await drive(port, child.pid!, rate, runId);
      const at = `open_loop_${rate}_per_s`;
      figures[`${at}_p50_ms`] = r.p50;
      figures[`${at}_p99_ms`] = r.p99;
      figures[`${at}_max_ms`] = r.max;
      figures[`${at}_errors`] = r.errors;
      figures[`${at}_peak_rss_mib`] = r.peakRssMiB;
      figures[`${at}_serve_cpu_ms_per_request`] = r.cpuMsPerRequest;
      // Where the memory is after the rate: V8's heap (what JavaScript keeps) and outside it (buffers, SQLite).
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((res) => res.text());
      const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? Number.NaN);
      figures[`${at}_heap_used_mib`] = Math.round(gauge('healbot_nodejs_heap_size_used_bytes') / 1024 / 1024);
      figures[`${at}_heap_total_mib`] = Math.round(gauge('healbot_nodejs_heap_size_total_bytes') / 1024 / 1024);
      figures[`${at}_external_mib`] = Math.round(gauge('healbot_nodejs_external_memory_bytes') / 1024 / 1024);
    }
    const verdict = (rate: number, met: (at: string) => boolean) =>
      RATES.includes(rate) ? (met(`open_loop_${rate}_per_s`) ? 'met' : 'missed') : 'not run';
    figures.open_loop_target_4000_p99_le_50_ms = verdict(
      4000,
      (at) => (figures[`${at}_p99_ms`] as number) <= 50 && figures[`${at}_errors`] === 0,
    );
    figures.open_loop_target_8000_no_errors = verdict(8000, (at) => figures[`${at}_errors`] === 0);
    figures.open_loop_target_rss_le_150_mib =
      Math.max(...RATES.map((rate) => figures[`open_loop_${rate}_per_s_peak_rss_mib`] as number)) <= 150
        ? 'met'
        : 'missed';
    return figures;
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchIntakeOpenLoop().then(
    (figures) => {
      for (const [key, value] of Object.entries(figures)) process.stdout.write(`${key.padEnd(40)} ${value}\n`);
      process.exit(0);
    },
    (error) => {
      process.stderr.write(`bench failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}

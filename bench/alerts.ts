/**
 * Alert intake under load, and event-driven detection beside polling.
 *
 * 1. 10,000 Alertmanager alerts over 20 services, in bursts of concurrent webhook posts, into
 *    an in-process `healbot serve` with a SQLite file store: alerts accepted per second, p99
 *    response time, peak RSS, incidents opened and chat messages produced (a counting
 *    ChatSurface behind the same conversations the chat adapters use).
 * 2. When a Docker engine answers (DOCKER_HOST or the default socket) and has the test image:
 *    time from a container's death to the incident opening through the Docker event stream,
 *    beside a 5 s polling loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import type { ChatMessage, ChatSurface, ThreadRef } from '../commands/chat.js';
import { IncidentConversations } from '../commands/conversation.js';
import { parseConfig } from '../src/config/load.js';
import { startServe } from '../src/serve.js';

const SERVICES = 20;
const ALERTS = 10_000;
const ALERTS_PER_REQUEST = 25;
const CONCURRENCY = 20;
const TOKEN = 'bench-token-0123456789abcdef';

/** Counts every call a chat adapter would turn into a platform API request. */
class CountingSurface implements ChatSurface {
  readonly platform = 'bench';
  calls = 0;
  private threads = 0;
  async openThread(_origin: unknown, _status: ChatMessage): Promise<ThreadRef> {
    this.calls += 1;
    const id = `t${++this.threads}`;
    return { platform: 'bench', channel: 'bench', thread: id, statusMessage: id };
  }
  async updateStatus(): Promise<void> {
    this.calls += 1;
  }
  async reply(): Promise<void> {
    this.calls += 1;
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

async function benchIntake(): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'healbot-bench-alerts-'));
  const backend = createServer((_req, res) => res.writeHead(500).end('down'));
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const port = (backend.address() as { port: number }).port;
  const services = Object.fromEntries(
    Array.from({ length: SERVICES }, (_, i) => [
      `svc${i}`,
      { probes: [{ name: 'internal', http: `http://127.0.0.1:${port}/ready` }] },
    ]),
  );
  const config = parseConfig({
    server: { listen: '127.0.0.1:0', token: TOKEN },
    store: { path: join(dir, 'healbot.db') },
    services,
  });
  const bot = await startServe(config, {
    console: false,
    monitoring: false,
    logWrite: () => undefined,
    logLevel: 'warn',
  });
  const surface = new CountingSurface();
  const conversations = new IncidentConversations(bot.bot.api, surface, {
    platform: 'bench',
    defaultChannel: 'bench',
    minUpdateIntervalMs: 1000,
  });
  conversations.start();

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const latencies: number[] = [];
  const startsAt = new Date().toISOString();
  let sent = 0;
  let request = 0;
  const started = performance.now();
  try {
    while (sent < ALERTS) {
      const burst: Promise<void>[] = [];
      for (let c = 0; c < CONCURRENCY && sent < ALERTS; c++) {
        const alerts = [];
        for (let a = 0; a < ALERTS_PER_REQUEST && sent < ALERTS; a++, sent++) {
          alerts.push({
            status: 'firing',
            labels: { alertname: 'Down', service: `svc${sent % SERVICES}`, instance: `i${sent}` },
            annotations: { summary: `instance ${sent} down` },
            startsAt,
            fingerprint: `fp${sent}`,
          });
        }
        const body = JSON.stringify({
          version: '4',
          status: 'firing',
          receiver: 'healbot',
          groupLabels: {},
          commonLabels: {},
          alerts,
        });
        const t0 = performance.now();
        request += 1;
        burst.push(
          fetch(`${bot.url}/webhooks/alertmanager`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            body,
          }).then(async (res) => {
            await res.arrayBuffer();
            if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
            latencies.push(performance.now() - t0);
          }),
        );
      }
      await Promise.all(burst);
    }
    const seconds = (performance.now() - started) / 1000;
    // Let the incidents finish and their conversations post.
    const deadline = Date.now() + 30_000;
    while (Object.keys(bot.bot.engine.openIncidents()).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1100));
    await conversations.idle();
    const incidents = await bot.bot.store.listIncidents();
    return {
      alerts_sent: ALERTS,
      webhook_requests: request,
      alerts_accepted_per_second: Math.round(ALERTS / seconds),
      webhook_p50_ms: Number(percentile(latencies, 50).toFixed(1)),
      webhook_p99_ms: Number(percentile(latencies, 99).toFixed(1)),
      peak_rss_mib: Math.round(peakRss / 1024 / 1024),
      incidents_opened: incidents.length,
      alerts_counted_on_incidents: incidents.reduce((sum, i) => sum + i.alertCount, 0),
      chat_messages: surface.calls,
    };
  } finally {
    clearInterval(sampler);
    await conversations.stop();
    await bot.close();
    backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const BENCH_IMAGE = process.env.HEALBOT_BENCH_IMAGE ?? 'healbot-test/busybox:1';

/** Death-to-incident latency through the Docker event stream, beside a 5 s polling loop. */
async function benchDockerDetection(): Promise<Record<string, number | string>> {
  // healbot's own test dockerd (root only), else DOCKER_HOST or the default socket.
  const harness = await import('../test/support/docker-engine.js').catch(() => undefined);
  const images = await import('../test/support/images.js').catch(() => undefined);
  const engine = process.env.DOCKER_HOST ? undefined : await harness?.startDockerEngine().catch(() => undefined);
  try {
    const docker = engine?.docker ?? new Dockerode();
    try {
      await docker.ping();
      if (images) await images.ensureTestImage(docker);
      await docker.getImage(BENCH_IMAGE).inspect();
    } catch (error) {
      return {
        docker_detection: `skipped: no Docker engine with ${BENCH_IMAGE} (${(error as Error).message.split('\n')[0]}; ${harness?.dockerEngineUnavailableReason() ?? ''})`,
      };
    }
    return await measureDetection(docker);
  } finally {
    await engine?.stop();
  }
}

async function measureDetection(docker: Dockerode): Promise<Record<string, number | string>> {
  const name = `healbot-bench-${process.pid}`;
  const config = parseConfig({
    services: { victim: { docker: { container: name }, probes: [] } },
    healing: { enabled: false },
  });
  const bot = await startServe(config, {
    console: false,
    monitoring: false,
    logWrite: () => undefined,
    logLevel: 'warn',
    dockerClientFor: () => docker,
  });
  const container = await docker.createContainer({
    Image: BENCH_IMAGE,
    name,
    Cmd: ['sleep', '300'],
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await container.start();
    await new Promise((r) => setTimeout(r, 500));
    let openedAt = 0;
    const opened = new Promise<void>((resolve) =>
      bot.bot.engine.subscribe((event) => {
        if (event.type === 'started' && event.incident.source === 'event' && !openedAt) {
          openedAt = performance.now();
          resolve();
        }
      }),
    );
    // The polling loop a probe-only setup would run, started at a random phase like in life.
    let polledAt = 0;
    const poll = async () => {
      const state = await container.inspect();
      if (!state.State.Running && !polledAt) polledAt = performance.now();
    };
    const poller = setInterval(() => void poll(), 5000);
    await new Promise((r) => setTimeout(r, Math.random() * 5000));
    const killedAt = performance.now();
    await container.kill();
    await Promise.race([opened, new Promise((r) => setTimeout(r, 10_000))]);
    while (!polledAt && performance.now() - killedAt < 11_000) await new Promise((r) => setTimeout(r, 20));
    clearInterval(poller);
    return {
      docker_event_detection_ms: openedAt ? Math.round(openedAt - killedAt) : 'not detected in 10 s',
      polling_5s_detection_ms: polledAt ? Math.round(polledAt - killedAt) : 'not detected',
    };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
    await bot.close();
  }
}

/** `npm run bench` calls this through bench/run.ts. */
export async function benchAlerts(): Promise<Record<string, number | string>> {
  return { ...(await benchIntake()), ...(await benchDockerDetection()) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchAlerts().then(
    (figures) => {
      for (const [key, value] of Object.entries(figures)) process.stdout.write(`${key.padEnd(36)} ${value}\n`);
      process.exit(0);
    },
    (error) => {
      process.stderr.write(`bench failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}

import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dockerEngineUnavailableReason,
  requireOrSkip,
  startDockerEngine,
  type DockerEngine,
} from '../support/docker-engine.js';
import {
  ensureTestImage,
  freePort,
  removeTestContainers,
  runContainer,
  uniqueName,
  waitForContainer,
} from '../support/images.js';
import { flakyServer, forwardingLayer, type Layer } from '../support/layers.js';
import { startTestBot, type TestBot } from './harness.js';

/**
 * Two incidents that need the same fix: `api` and `web` both depend on `db`, whose probe fails
 * until it is restarted. Heals arrive at once through two doors of one `healbot serve`; the
 * real dockerd's event stream shows how many times `db` was (re)started.
 */
const engine = await startDockerEngine();
const skip = !engine && requireOrSkip(dockerEngineUnavailableReason());

describe.skipIf(skip)('one action per target', () => {
  let docker: Dockerode;
  let host: string;
  let bot: TestBot | undefined;
  const layers: Layer[] = [];

  beforeAll(async () => {
    docker = (engine as DockerEngine).docker;
    host = (engine as DockerEngine).host;
    await ensureTestImage(docker);
  });

  afterAll(async () => {
    await bot?.close();
    await Promise.allSettled(layers.map((l) => l.close()));
    await removeTestContainers(docker);
  });

  it('concurrent heals of two dependents from the API and a webhook restart the shared dependency once; the second says who did it', async () => {
    const port = await freePort();
    const db = uniqueName('db');
    await runContainer(docker, { name: db, cmd: flakyServer(port, 'error') });
    await waitForContainer(docker, db, (info) => info.State.Running);
    const dbUrl = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100 && !(await fetch(`${dbUrl}/cgi-bin/ready`).catch(() => undefined)); i++)
      await new Promise((r) => setTimeout(r, 50));
    const api = await forwardingLayer(() => dbUrl);
    const web = await forwardingLayer(() => dbUrl);
    layers.push(api, web);
    bot = await startTestBot({
      healing: { verifyTimeout: '30s', actionTimeout: '30s' },
      monitor: { dockerEvents: false },
      services: {
        db: {
          docker: { container: db, host },
          probes: [{ name: 'internal', http: `${dbUrl}/cgi-bin/ready`, timeoutMs: 1000 }],
          policy: { auto: ['restart'] },
        },
        api: { probes: [{ name: 'internal', http: `${api.url}/cgi-bin/ready`, timeoutMs: 2000 }], dependsOn: ['db'] },
        web: { probes: [{ name: 'internal', http: `${web.url}/cgi-bin/ready`, timeoutMs: 2000 }], dependsOn: ['db'] },
      },
    });
    const since = (Date.now() / 1000).toFixed(3);
    const done = new Map<string, { outcome: string; summary: string }>();
    const all = new Promise<void>((resolve) =>
      bot!.bot.api.subscribe((event) => {
        if (event.type !== 'done') return;
        done.set(event.report.service, event.report);
        if (done.size === 2) resolve();
      }),
    );
    const [fromApi, fromWebhook] = await Promise.all([
      bot.call('/api/heal', { method: 'POST', json: { service: 'api' } }),
      bot.call('/webhooks/generic', { method: 'POST', json: { service: 'web', summary: 'web is down' } }),
    ]);
    expect(fromApi.status).toBe(202);
    expect(fromWebhook.status).toBe(202);
    await all;

    const until = Math.ceil(Date.now() / 1000) + 1;
    const stream = (await docker.getEvents({
      since: since as unknown as number,
      until,
      filters: { container: [db], event: ['start'] },
    })) as unknown as NodeJS.ReadableStream;
    let text = '';
    for await (const chunk of stream) text += chunk.toString();
    const starts = text.split('\n').filter(Boolean);
    expect(starts, text).toHaveLength(1);

    const outcomes = [...done.values()].map((r) => r.outcome).sort();
    expect(outcomes).toEqual(['healed', 'not_needed']);
    const second = [...done.values()].find((r) => r.outcome === 'not_needed')!;
    expect(second.summary).toMatch(/^db was restarted \d+ s ago by inc_[0-9a-f]+; /);
    const audit = await bot.bot.store.listAudit({ service: 'db' });
    expect(audit.filter((e) => e.event === 'action_started')).toHaveLength(1);
  });
});

/**
 * The `docker run` install path, end to end: the real `docker build` of the Dockerfile on the
 * test dockerd (FROM a Node base image made from this machine's runtime; no registry), then
 * the image started with the engine's socket mounted heals a sibling container.
 */
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dockerEngineUnavailableReason, requireOrSkip, startDockerEngine } from '../support/docker-engine.js';
import { commands, freePort, runContainer, TEST_LABEL, uniqueName } from '../support/images.js';
import { buildHealbotImage, docker, ensureNodeBaseImage, startHealbotContainer } from '../support/node-image.js';
import { tempDir, waitFor } from '../serve/harness.js';

const engine = await startDockerEngine();
const skip = !engine && requireOrSkip(dockerEngineUnavailableReason());
const TAG = `healbot-test/healbot:${randomBytes(4).toString('hex')}`;
const TOKEN = 'image-test-token-0123456789abcdef';
/** A named API credential: the webhook token never approves. */
const API_TOKEN = 'image-test-api-token-0123456789abcdef';

/** Polling the container's API: 60 s, for a loaded machine. */
const WAIT_MS = 60_000;

describe.skipIf(skip)('the container image', () => {
  const created: Dockerode.Container[] = [];
  const dir = tempDir();
  let botName = '';

  beforeAll(async () => {
    await ensureNodeBaseImage(engine!.host);
    const build = await buildHealbotImage(engine!.host, TAG);
    if (!build.ok) throw new Error(`docker build failed:\n${build.log.split('\n').slice(-30).join('\n')}`);
  }, 600_000);

  afterAll(async () => {
    await Promise.allSettled(created.map((c) => c.remove({ force: true })));
    await docker(engine!.host, ['image', 'rm', '-f', TAG]);
    dir.cleanup();
  });

  it('runs healbot serve as a non-root user, with a health check on /healthz', async () => {
    const image = await engine!.docker.getImage(TAG).inspect();
    expect(image.Config.User).toBe('10001:10001');
    expect(image.Config.Entrypoint).toEqual(['healbot']);
    expect(image.Config.Cmd).toEqual(['serve', '--config', '/etc/healbot/healbot.yml']);
    expect(image.Config.Healthcheck?.Test?.join(' ')).toContain('HEALBOT_HEALTHZ_URL');
    expect(image.Config.Env).toContain('HEALBOT_HEALTHZ_URL=http://127.0.0.1:8080/healthz');
  });

  it(
    'diagnoses and heals a sibling container through the mounted Docker socket',
    async () => {
      const docker = engine!.docker;
      const appPort = await freePort();
      const botPort = await freePort();
      const app = await runContainer(docker, { name: uniqueName('image-app'), cmd: commands.readyServer(appPort) });
      created.push(app);
      const appName = (await app.inspect()).Name.slice(1);
      await app.stop({ t: 0 });

      const configFile = `${dir.path}/healbot.yml`;
      writeFileSync(
        configFile,
        stringify({
          server: {
            listen: `127.0.0.1:${botPort}`,
            token: '${HEALBOT_TOKEN}',
            apiTokens: [{ name: 'ops', token: '${HEALBOT_API_TOKEN}' }],
          },
          store: { path: '/var/lib/healbot/healbot.db' },
          monitor: { interval: '1h', dockerEvents: false },
          healing: { approvers: ['api:ops'] },
          services: {
            app: {
              docker: { container: appName },
              probes: [{ name: 'internal', http: `http://127.0.0.1:${appPort}/ready` }],
            },
          },
        }),
      );
      botName = uniqueName('image-bot');
      const bot = await startHealbotContainer(docker, {
        image: TAG,
        name: botName,
        socket: engine!.socket,
        configFile,
        env: {
          HEALBOT_TOKEN: TOKEN,
          HEALBOT_API_TOKEN: API_TOKEN,
          HEALBOT_HEALTHZ_URL: `http://127.0.0.1:${botPort}/healthz`,
        },
        labels: { [TEST_LABEL]: 'image' },
      });
      created.push(bot);
      const url = `http://127.0.0.1:${botPort}`;
      const call = (path: string, init: RequestInit = {}, token = TOKEN) =>
        fetch(url + path, {
          ...init,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          signal: AbortSignal.timeout(10_000),
        });
      const logs = async () => (await bot.logs({ stdout: true, stderr: true })).toString('utf8');

      await waitFor(
        async () => (await bot.inspect()).State.Health?.Status === 'healthy',
        'the image HEALTHCHECK to pass',
        WAIT_MS,
      ).catch(async (error) => {
        throw new Error(`${(error as Error).message}\n${await logs()}`);
      });
      const { incidentId } = (await (
        await call('/api/heal', { method: 'POST', body: JSON.stringify({ service: 'app' }) })
      ).json()) as { incidentId: string };
      expect(incidentId).toBeTruthy();
      const approvals = await waitFor(
        async () => {
          const pending = (await (await call('/api/approvals')).json()) as {
            id: string;
            incidentId: string;
            step: { action: string };
          }[];
          return pending.length > 0 && pending;
        },
        'the approval request',
        WAIT_MS,
      );
      expect(approvals[0]).toMatchObject({ incidentId, step: { action: 'start' } });
      const approved = await call(
        `/api/approvals/${approvals[0].id}`,
        { method: 'POST', body: JSON.stringify({ decision: 'approve' }) },
        API_TOKEN,
      );
      expect(approved.status).toBe(200);
      const incident = await waitFor(
        async () => {
          const record = (await (await call(`/api/incidents/${incidentId}`)).json()) as {
            status: string;
            outcome: string;
            rootCause: { kind: string };
          };
          return record.status === 'closed' && record;
        },
        'the incident to close',
        WAIT_MS,
      ).catch(async (error) => {
        throw new Error(`${(error as Error).message}\n${await logs()}`);
      });
      expect(incident, await logs()).toMatchObject({ outcome: 'healed', rootCause: { kind: 'service_down' } });
      expect((await app.inspect()).State.Running).toBe(true);
      expect(await (await fetch(`http://127.0.0.1:${appPort}/ready`)).text()).toBe('ok\n');
    },
    4 * WAIT_MS,
  );

  it('holds dist/ and production dependencies only', async () => {
    const listing = await docker(engine!.host, [
      'exec',
      botName,
      'node',
      '-e',
      "const fs=require('fs');console.log(JSON.stringify({dist:fs.readdirSync('/app/dist').sort(),typescript:fs.existsSync('/app/node_modules/typescript'),vitest:fs.existsSync('/app/node_modules/vitest'),sqlite:fs.existsSync('/app/node_modules/better-sqlite3'),maps:fs.readdirSync('/app/dist/src').some(f=>f.endsWith('.map')),uid:process.getuid(),db:fs.existsSync('/var/lib/healbot/healbot.db')}))",
    ]);
    expect(listing.exitCode, listing.all).toBe(0);
    expect(botName, 'the heal test started the container').not.toBe('');
    expect(JSON.parse(listing.stdout)).toEqual({
      dist: ['adapters', 'commands', 'src'],
      typescript: false,
      vitest: false,
      sqlite: true,
      maps: false,
      uid: 10001,
      db: true,
    });
  });
});

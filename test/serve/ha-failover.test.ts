import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { dockerEngineUnavailableReason, requireOrSkip, startDockerEngine } from '../support/docker-engine.js';
import { ensureTestImage, removeTestContainers, uniqueName } from '../support/images.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../support/postgres.js';
import {
  firingAlert,
  killedService,
  leads,
  OPS_TOKEN,
  type Replica,
  replicaConfig,
  startEvents,
  startReplica,
} from '../support/replicas.js';
import { waitFor } from '../support/wait.js';

/**
 * Two `healbot serve` processes on one Postgres and the real dockerd. The first leads (the
 * Postgres advisory lock); the second stands by and records what it is sent in the shared
 * store. kill -9 of the leader while an approval waits: the standby takes over, and the
 * approval it is then sent starts the container exactly once.
 */
const engine = await startDockerEngine();
const postgres = engine ? await startPostgres() : undefined;
const skip =
  (!engine && requireOrSkip(dockerEngineUnavailableReason())) ||
  (!postgres && requireOrSkip(postgresUnavailableReason()));

describe.skipIf(skip)('two replicas on one Postgres', () => {
  let docker: Dockerode;
  const dir = mkdtempSync(join(tmpdir(), 'healbot-ha-'));
  const replicas: Replica[] = [];

  beforeAll(async () => {
    docker = engine!.docker;
    await ensureTestImage(docker);
  });

  afterAll(async () => {
    for (const replica of replicas) replica.process.kill('SIGKILL');
    await Promise.allSettled(replicas.map((r) => r.process));
    await removeTestContainers(docker);
    await (postgres as PostgresServer | undefined)?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one incident from a webhook to each; after kill -9 of the leader the standby takes over and an approval starts the container once', async () => {
    const storeUrl = await postgres!.createDatabase('failover');
    const container = uniqueName('ha-web');
    const { port: servicePort } = await killedService(docker, container);
    const since = (Date.now() / 1000).toFixed(3);
    const configFor = async (identity: string) => {
      const { freePort } = await import('../../src/free-port.js');
      return replicaConfig({
        storeUrl,
        identity,
        port: await freePort(),
        leaseDuration: '3s',
        container,
        dockerHost: engine!.host,
        servicePort,
      });
    };
    const a = await startReplica(dir, 'replica-a', await configFor('replica-a'));
    replicas.push(a);
    await waitFor(() => leads(a), 'replica-a to lead');
    const b = await startReplica(dir, 'replica-b', await configFor('replica-b'));
    replicas.push(b);
    const standby = await b.call('/readyz');
    // A standby is ready (it can serve), and says who leads.
    expect(standby).toMatchObject({ status: 200, body: { standby: true, leader: 'replica-a' } });

    const first = await a.call('/webhooks/alertmanager', { json: firingAlert('WebDown', 'web is down') });
    expect(first.status).toBe(202);
    // Opened, or joined onto the incident the leader's startup monitoring round opened.
    expect(['opened', 'joined']).toContain(first.body.alerts[0].result);
    const incidentId: string = first.body.alerts[0].incidentId;
    const counted: number = (await a.call(`/api/incidents/${incidentId}`)).body.alertCount;
    const approval = await waitFor(async () => {
      const pending = await a.call('/api/approvals');
      return pending.status === 200 && pending.body.find((p: { incidentId: string }) => p.incidentId === incidentId);
    }, 'the approval to start web');
    expect(approval.step).toMatchObject({ action: 'start', target: 'web' });

    // The standby records the second alert; the leader joins it onto the same incident.
    const second = await b.call('/webhooks/alertmanager', { json: firingAlert('WebProbeFailing', 'web probe fails') });
    expect(second.status).toBe(202);
    expect(second.body.alerts[0]).toMatchObject({ result: 'queued', service: 'web' });
    const joined = await waitFor(async () => {
      const incident = await b.call(`/api/incidents/${incidentId}`);
      return incident.body.alertCount === counted + 1 && incident.body;
    }, 'the leader to count the standby’s alert on the incident');
    expect(joined.status).toBe('open');
    expect((await b.call('/api/incidents?service=web')).body).toHaveLength(1);

    // The standby checks what it records: the token, the service name; a person's /api/heal joins the same incident.
    expect((await b.call('/webhooks/alertmanager', { json: firingAlert('X', 'x'), token: 'wrong' })).status).toBe(401);
    expect((await b.call('/api/heal', { json: { service: 'nope' }, token: OPS_TOKEN })).status).toBe(404);
    const asked = await b.call('/api/heal', { json: { service: 'web' }, token: OPS_TOKEN });
    expect(asked).toMatchObject({ status: 202, body: { result: 'queued', service: 'web' } });

    // The CLI on the same store does not act while a serve leads: it records the heal for the leader.
    const cli = await runCli(['heal', 'web', '--config', join(dir, 'replica-b.yml'), '--yes'], {
      env: { USER: 'ana' },
    });
    expect(cli.stderr).toBe('');
    expect(cli.exitCode).toBe(0);
    expect(cli.stdout).toBe(
      'replica-a leads on the shared store: it will heal web (recorded for it); follow it in chat or with GET /api/incidents?service=web',
    );
    expect(await startEvents(docker, container, since)).toHaveLength(0);

    // A decision sent to the standby by someone who may not approve is refused there, and recorded nowhere.
    const refused = await b.call(`/api/approvals/${approval.id}`, { json: { decision: 'approve' } });
    expect(refused.status).toBe(403);

    a.process.kill('SIGKILL');
    await a.process;
    await waitFor(() => leads(b), 'replica-b to take over', 30_000);
    expect((await b.call('/api/approvals')).body.map((p: { id: string }) => p.id)).toEqual([approval.id]);

    const decided = await b.call(`/api/approvals/${approval.id}`, { json: { decision: 'approve' }, token: OPS_TOKEN });
    expect(decided).toMatchObject({ status: 200, body: { ok: true, decision: 'approved', by: ['api:ops'] } });
    const closed = await waitFor(
      async () => {
        const incident = await b.call(`/api/incidents/${incidentId}`);
        return incident.body.status === 'closed' && incident.body;
      },
      'the incident to close',
      60_000,
    );
    expect(closed.outcome).toBe('healed');
    expect((await b.call('/api/incidents?service=web')).body).toHaveLength(1);
    expect(closed.alertCount).toBe(counted + 1);
    expect(await startEvents(docker, container, since)).toHaveLength(1);
    const again = await b.call(`/api/approvals/${approval.id}`, { json: { decision: 'approve' }, token: OPS_TOKEN });
    expect(again.status).toBe(409);
    expect(await startEvents(docker, container, since)).toHaveLength(1);
  });
});

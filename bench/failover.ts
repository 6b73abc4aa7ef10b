import { mkdtempSync, rmSync } from 'node:fs';
import { freePort } from '../src/free-port.js';
import { benchDockerEngine } from './docker-engine.js';

const RUNS = 10;
const LEASE_DURATION_S = 3;

/**
 * Failover: two `healbot serve` processes (the built CLI) on one Postgres and the test dockerd;
 * the leader holds a pending approval to start a killed container. At kill -9 of the leader the
 * approval is sent to the standby, which records it; the figure is the time from the kill to
 * the container running again (the standby took over, took the approval from the queue and
 * acted). Median and max over 10 runs, beside the configured lease duration.
 */
export async function benchFailover(): Promise<Record<string, number | string>> {
  const docker = await benchDockerEngine('failover');
  if ('skipped' in docker) return docker.skipped;
  const pgSupport = await import('../test/support/postgres.js').catch(() => undefined);
  const replicas = await import('../test/support/replicas.js').catch(() => undefined);
  const postgres = await pgSupport?.startPostgres();
  if (!postgres || !pgSupport || !replicas)
    return {
      'failover.skipped': `no PostgreSQL (${pgSupport?.postgresUnavailableReason() ?? 'test support not built'})`,
    };
  const { engine, images } = docker;
  const dir = mkdtempSync('/tmp/healbot-bench-failover-');
  const times: number[] = [];
  try {
    await images.ensureTestImage(engine.docker);
    for (let run = 0; run < RUNS; run++) {
      const storeUrl = await postgres.createDatabase(`failover_${run}`);
      const container = images.uniqueName('failover');
      const { port: servicePort } = await replicas.killedService(engine.docker, container);
      const config = async (identity: string) =>
        replicas.replicaConfig({
          storeUrl,
          identity,
          port: await freePort(),
          leaseDuration: `${LEASE_DURATION_S}s`,
          container,
          dockerHost: engine.host,
          servicePort,
        });
      const a = await replicas.startReplica(dir, `a${run}`, await config(`a${run}`));
      let b: Awaited<ReturnType<typeof replicas.startReplica>> | undefined;
      try {
        await replicas.waitFor(() => replicas.leads(a), 'a to lead');
        b = await replicas.startReplica(dir, `b${run}`, await config(`b${run}`));
        const approval = await replicas.waitFor(async () => (await a.call('/api/approvals')).body[0], 'an approval');
        const killedAt = performance.now();
        a.process.kill('SIGKILL');
        const sent = await b.call(`/api/approvals/${approval.id}`, {
          json: { decision: 'approve' },
          token: replicas.OPS_TOKEN,
        });
        if (sent.status !== 202) throw new Error(`the standby answered ${sent.status}: ${JSON.stringify(sent.body)}`);
        await replicas.waitFor(
          async () => (await engine.docker.getContainer(container).inspect()).State.Running,
          'the container to run again',
          60_000,
        );
        times.push(performance.now() - killedAt);
      } finally {
        for (const replica of [a, b]) replica?.process.kill('SIGKILL');
        await Promise.allSettled([a.process, b?.process]);
      }
    }
  } finally {
    await images.removeTestContainers(engine.docker);
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const sorted = [...times].sort((x, y) => x - y);
  return {
    'failover.runs': times.length,
    'failover.lease_duration_ms': LEASE_DURATION_S * 1000,
    'failover.kill_to_action_median_ms': Math.round(sorted[Math.floor(sorted.length / 2)]),
    'failover.kill_to_action_max_ms': Math.round(sorted.at(-1)!),
    'failover.max_over_lease_ratio': Number((sorted.at(-1)! / (LEASE_DURATION_S * 1000)).toFixed(2)),
  };
}

import { createServer, type RequestListener, type Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { Elector } from './elector.js';

export interface Leadership {
  elector: Elector;
  /** Resolves once this replica leads. */
  acquired: Promise<void>;
  /** Why this replica must not act now (it could not confirm its leadership in time), or undefined while it leads. */
  notLeadingBecause(): string | undefined;
  stop(): Promise<void>;
}

/** What a standby tells clients to wait before they retry a request meant for the leader. */
export const STANDBY_RETRY_AFTER_SECONDS = 5;

/**
 * How replicas elect the one that acts: the configured Kubernetes Lease, else the shared
 * Postgres store's advisory lock. Each client is loaded only when it is the one configured.
 */
export async function electorFor(
  config: Config,
  options: {
    kubeConfigFor?: (context?: string) => KubeConfig;
    /** Overrides the configured identity (a CLI run is not the replica its config names). */
    identity?: string;
    onChange: (leader: boolean) => void;
    onError: (message: string) => void;
  },
): Promise<{ elector: Elector; what: string } | undefined> {
  const identity =
    options.identity ?? config.leaderElection?.identity ?? config.store.leader.identity ?? defaultIdentity();
  if (config.leaderElection) {
    const lease = config.leaderElection;
    const { loadKubeConfig } = await import('../runtimes/kubernetes.js');
    const { LeaseElector } = await import('../runtimes/kubernetes-lease.js');
    return {
      what: `the Lease ${lease.namespace}/${lease.lease}`,
      elector: new LeaseElector({
        kubeConfig: options.kubeConfigFor?.(lease.context) ?? loadKubeConfig(lease.context),
        namespace: lease.namespace,
        name: lease.lease,
        identity,
        leaseDurationSeconds: Math.max(1, Math.round(lease.leaseDuration / 1000)),
        onError: options.onError,
        onChange: options.onChange,
      }),
    };
  }
  if (config.store.url) {
    const lock = config.store.leader;
    const { PostgresElector } = await import('./postgres-lock.js');
    return {
      what: `the Postgres leader lock "${lock.name}"`,
      elector: new PostgresElector({
        url: config.store.url,
        name: lock.name,
        identity,
        leaseDurationMs: lock.leaseDuration,
        onError: options.onError,
        onChange: options.onChange,
      }),
    };
  }
  return undefined;
}

const defaultIdentity = () => process.env.HOSTNAME ?? `healbot-${process.pid}`;

/** Answers every request while this replica stands by: probes 200, work 503 with Retry-After. */
export function refusingStandby(leader: () => string | undefined): RequestListener {
  return (req, res) => {
    req.resume();
    // Ready means "can serve" (up, campaigning, taking over within the lease duration), so a
    // rollout counts standbys as available. Work is for the leader: 503 with Retry-After, which
    // Alertmanager and Grafana retry, reaching the leader through the Service.
    const probe = req.url === '/healthz' || req.url === '/readyz';
    const headers: Record<string, string> = { 'content-type': 'application/json', connection: 'close' };
    if (!probe) headers['retry-after'] = String(STANDBY_RETRY_AFTER_SECONDS);
    res.writeHead(probe ? 200 : 503, headers);
    const holder = leader() ?? null;
    res.end(
      JSON.stringify(
        probe
          ? { ok: true, standby: true, leader: holder }
          : {
              ok: false,
              standby: true,
              leader: holder,
              error: `this replica is a standby${holder ? `; ${holder} leads` : ''}: retry`,
            },
      ),
    );
  };
}

/**
 * Campaigns for leadership. Until it leads, a standby replica answers on the listen address
 * with `standby` (by default {@link refusingStandby}); only the leader runs the engine, so two
 * replicas never act on the same incident.
 */
export async function campaign(
  config: Config,
  options: {
    logger: Logger;
    kubeConfigFor?: (context?: string) => KubeConfig;
    listen?: { host: string; port: number };
    /** The server that answers while this replica stands by (not listening yet). */
    standby?: (elector: Elector) => Server;
    onLost: () => void;
  },
): Promise<Leadership | undefined> {
  let lead: () => void = () => undefined;
  const acquired = new Promise<void>((resolve) => (lead = resolve));
  let leading = false;
  const chosen = await electorFor(config, {
    kubeConfigFor: options.kubeConfigFor,
    onError: (message) => options.logger.warn({}, message),
    onChange: (leader) => {
      if (leader && !leading) {
        leading = true;
        options.logger.info({ identity: chosen?.elector.leader(), via: chosen?.what }, 'this replica leads: starting');
        lead();
      } else if (!leader && leading) {
        leading = false;
        options.logger.error(
          { via: chosen?.what, reason: chosen?.elector.notLeadingBecause() },
          'lost the leadership: stopping so that only one replica acts',
        );
        options.onLost();
      }
    },
  });
  if (!chosen) return undefined;
  const { elector } = chosen;
  // The first round decides this replica's role before it answers anyone, so a standby names the leader from its first answer.
  await elector.start();
  let standby: Server | undefined;
  if (!elector.isLeader()) {
    options.logger.info({ leader: elector.leader() }, 'standing by: another replica leads');
    if (options.listen) {
      const server = options.standby?.(elector) ?? createServer(refusingStandby(() => elector.leader()));
      standby = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.listen!.port, options.listen!.host, () => resolve());
      }).catch(async (error: unknown) => {
        await elector.stop();
        throw error;
      });
    }
  }
  await acquired;
  if (standby) {
    const server = standby;
    // A standby's connections must not be reused once it hands the port to the real server.
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return { elector, acquired, notLeadingBecause: () => elector.notLeadingBecause(), stop: () => elector.stop() };
}

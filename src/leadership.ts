import { createServer, type Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Config } from './config/schema.js';
import type { Logger } from './logger.js';
import { loadKubeConfig } from './runtimes/kubernetes.js';
import { LeaseElector } from './runtimes/kubernetes-lease.js';

export interface Leadership {
  elector: LeaseElector;
  /** Resolves once this replica leads. */
  acquired: Promise<void>;
  /** Why this replica must not act now (it could not renew its Lease in time), or undefined while it leads. */
  notLeadingBecause(): string | undefined;
  stop(): Promise<void>;
}

/**
 * Campaigns for the configured Lease. Until it leads, a standby replica answers only
 * `/healthz` (200) and `/readyz` (503), so a Kubernetes Service sends webhooks and chat to the
 * leader alone, and two replicas never act on the same incident.
 */
export async function campaign(
  config: NonNullable<Config['leaderElection']>,
  options: { logger: Logger; kubeConfigFor?: (context?: string) => KubeConfig; listen?: { host: string; port: number }; onLost: () => void },
): Promise<Leadership> {
  const identity = config.identity ?? process.env.HOSTNAME ?? `healbot-${process.pid}`;
  let lead: () => void = () => undefined;
  const acquired = new Promise<void>((resolve) => (lead = resolve));
  let leading = false;
  const elector = new LeaseElector({
    kubeConfig: options.kubeConfigFor?.(config.context) ?? loadKubeConfig(config.context),
    namespace: config.namespace,
    name: config.lease,
    identity,
    leaseDurationSeconds: Math.max(1, Math.round(config.leaseDuration / 1000)),
    onError: (message) => options.logger.warn({ lease: config.lease }, message),
    onChange: (leader) => {
      if (leader && !leading) {
        leading = true;
        options.logger.info({ identity, lease: config.lease }, 'this replica leads: starting');
        lead();
      } else if (!leader && leading) {
        leading = false;
        options.logger.error({ identity, lease: config.lease, reason: elector.notLeadingBecause() }, 'lost the lease: stopping so that only one replica acts');
        options.onLost();
      }
    },
  });
  let standby: Server | undefined;
  if (options.listen) {
    standby = createServer((req, res) => {
      req.resume();
      const ready = req.url === '/healthz';
      // A standby's connections must not be reused once it hands the port to the real server.
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ ok: ready, standby: true, leader: elector.leader() ?? null }));
    });
    const server = standby;
    await new Promise<void>((resolve) => server.listen(options.listen!.port, options.listen!.host, resolve));
  }
  await elector.start();
  if (!elector.isLeader()) options.logger.info({ identity, leader: elector.leader() }, 'standing by: another replica leads');
  await acquired;
  if (standby) {
    const server = standby;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return { elector, acquired, notLeadingBecause: () => elector.notLeadingBecause(), stop: () => elector.stop() };
}

/**
 * Leader election through a coordination.k8s.io/v1 Lease, so several healbot replicas can run
 * and only one acts. Follows client-go's leaderelection: optimistic concurrency on the Lease's
 * resourceVersion, and expiry judged by when this replica last saw the record change (not by
 * the holder's clock).
 */
import { CoordinationV1Api, KubeConfig, V1MicroTime } from '@kubernetes/client-node';
import type { V1Lease } from '@kubernetes/client-node';
import { formatSeconds } from '../deadline.js';
import { describeError } from '../errors.js';
import type { Elector } from '../leadership/elector.js';
import { kubernetesRequest, statusOf } from './kubernetes.js';

export interface LeaseElectorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The Lease's name. @defaultValue 'healbot' */
  name?: string;
  /** This replica's identity, e.g. the pod name. */
  identity: string;
  /** @defaultValue 15 */
  leaseDurationSeconds?: number;
  /** How often the leader renews and a follower retries. @defaultValue a third of the lease duration */
  retryPeriodMs?: number;
  /** How long one Lease request may take. @defaultValue half the lease duration, at least 1 s */
  requestTimeoutMs?: number;
  /** Give the Lease up on stop so another replica takes over at once. @defaultValue true */
  releaseOnStop?: boolean;
  onChange?: (leader: boolean) => void;
  /** Where problems go (forbidden, unreachable); they never stop the loop. */
  onError?: (message: string) => void;
  now?: () => number;
}

/** Campaigns for a Lease and keeps renewing it while it leads. */
export class LeaseElector implements Elector {
  private readonly api: CoordinationV1Api;
  private readonly name: string;
  private readonly durationMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private leading = false;
  private renewedAt = 0;
  private observed: { holder?: string; renewTime?: string; version?: string } = {};
  private observedAt = 0;
  private current: Promise<void> = Promise.resolve();
  private readonly requestTimeoutMs: number;
  private expiry: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private lost: string | undefined;

  constructor(private readonly options: LeaseElectorOptions) {
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.name = options.name ?? 'healbot';
    const seconds = options.leaseDurationSeconds ?? 15;
    this.durationMs = seconds * 1000;
    this.retryMs = options.retryPeriodMs ?? Math.max(100, Math.floor(this.durationMs / 3));
    this.now = options.now ?? Date.now;
    this.requestTimeoutMs = options.requestTimeoutMs ?? Math.max(1000, Math.floor(this.durationMs / 2));
  }

  /** Why this replica does not lead (it never did, or it could not renew in time); undefined while it leads. */
  notLeadingBecause(): string | undefined {
    if (this.isLeader()) return undefined;
    return this.lost ?? `this replica does not hold the Lease "${this.name}" (held by ${this.leader() ?? 'nobody'})`;
  }

  /** Starts campaigning; resolves after the first attempt. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.tick();
  }

  /** True while this replica holds an unexpired Lease. */
  isLeader(): boolean {
    return this.leading && this.now() - this.renewedAt < this.durationMs;
  }

  /** The identity this replica last saw holding the Lease. */
  leader(): string | undefined {
    return this.observed.holder || undefined;
  }

  /** Stops campaigning and, unless told otherwise, releases the Lease. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.expiry) clearTimeout(this.expiry);
    await this.current;
    if (this.leading && (this.options.releaseOnStop ?? true)) {
      await this.release().catch((error: unknown) => this.options.onError?.(describeError(error)));
    }
    this.setLeading(false);
  }

  private async tick(): Promise<void> {
    this.current = this.tryAcquireOrRenew()
      .then((ok) => {
        this.lastError = undefined;
        this.setLeading(ok);
      })
      .catch((error: unknown) => {
        this.lastError = describeError(error);
        this.options.onError?.(this.lastError);
        if (!this.isLeader()) this.stepDown();
      });
    await this.current;
    if (this.running) {
      this.timer = setTimeout(() => void this.tick(), this.retryMs);
      this.timer.unref?.();
    }
  }

  private setLeading(leading: boolean): void {
    if (leading) {
      this.lost = undefined;
      this.armExpiry();
    }
    if (leading === this.leading) return;
    this.leading = leading;
    this.options.onChange?.(leading);
  }

  /** A leader that has not renewed within the lease duration steps down at that moment, even while a renew still hangs. */
  private armExpiry(): void {
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = setTimeout(
      () => {
        if (this.leading && !this.isLeader()) this.stepDown();
      },
      Math.max(0, this.renewedAt + this.durationMs - this.now()) + 1,
    );
    this.expiry.unref?.();
  }

  private stepDown(): void {
    if (this.leading)
      this.lost = `could not renew the Lease "${this.name}" within ${formatSeconds(this.durationMs)}${this.lastError ? ` (${this.lastError})` : ''}: this replica stopped acting`;
    this.setLeading(false);
  }

  private call(verb: 'get' | 'create' | 'update') {
    return { verb, resource: 'leases', namespace: this.options.namespace, name: this.name } as const;
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await kubernetesRequest(this.call('get'), this.requestTimeoutMs, (options) =>
        this.api.readNamespacedLease({ name: this.name, namespace: this.options.namespace }, options),
      );
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { identity, namespace } = this.options;
    const seconds = this.durationMs / 1000;
    const lease = await this.read();
    const nowTime = new V1MicroTime(this.now());
    if (!lease) {
      try {
        await kubernetesRequest(this.call('create'), this.requestTimeoutMs, (options) =>
          this.api.createNamespacedLease(
            {
              namespace,
              body: {
                apiVersion: 'coordination.k8s.io/v1',
                kind: 'Lease',
                metadata: { name: this.name, namespace },
                spec: {
                  holderIdentity: identity,
                  leaseDurationSeconds: seconds,
                  acquireTime: nowTime,
                  renewTime: nowTime,
                  leaseTransitions: 0,
                },
              },
            },
            options,
          ),
        );
      } catch (error) {
        if (statusOf(error) === 409) return false; // another replica created it first
        throw error;
      }
      this.renewedAt = this.now();
      this.observed = { holder: identity };
      return true;
    }

    const spec = lease.spec ?? {};
    const record = {
      holder: spec.holderIdentity ?? undefined,
      renewTime: spec.renewTime
        ? String(spec.renewTime instanceof Date ? spec.renewTime.toISOString() : spec.renewTime)
        : undefined,
      version: lease.metadata?.resourceVersion,
    };
    if (record.holder !== this.observed.holder || record.renewTime !== this.observed.renewTime) {
      this.observed = record;
      this.observedAt = this.now();
    }
    const holder = record.holder;
    const heldByOther = holder !== undefined && holder !== '' && holder !== identity;
    const expired = this.observedAt + (spec.leaseDurationSeconds ?? seconds) * 1000 <= this.now();
    if (heldByOther && !expired) return false;

    const takingOver = holder !== identity;
    const body: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: seconds,
        renewTime: nowTime,
        acquireTime: takingOver ? nowTime : spec.acquireTime ? new V1MicroTime(spec.acquireTime) : nowTime,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver && holder ? 1 : 0),
      },
    };
    try {
      await kubernetesRequest(this.call('update'), this.requestTimeoutMs, (options) =>
        this.api.replaceNamespacedLease({ name: this.name, namespace, body }, options),
      );
    } catch (error) {
      if (statusOf(error) === 409) return false; // someone else wrote first: lost this round
      throw error;
    }
    this.renewedAt = this.now();
    this.observed = { holder: identity };
    return true;
  }

  /** Empties the holder so followers need not wait for expiry (client-go's ReleaseOnCancel). */
  private async release(): Promise<void> {
    const lease = await this.read();
    if (!lease || lease.spec?.holderIdentity !== this.options.identity) return;
    const nowTime = new V1MicroTime(this.now());
    try {
      await kubernetesRequest(this.call('update'), this.requestTimeoutMs, (options) =>
        this.api.replaceNamespacedLease(
          {
            name: this.name,
            namespace: this.options.namespace,
            body: {
              ...lease,
              spec: {
                ...lease.spec,
                holderIdentity: '',
                leaseDurationSeconds: 1,
                renewTime: nowTime,
                acquireTime: nowTime,
              },
            },
          },
          options,
        ),
      );
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
  }
}

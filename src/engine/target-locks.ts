import type { ServiceConfig } from '../config/schema.js';

/** An action healbot started on a runtime object, remembered so a waiting incident can tell what changed. */
export interface TargetAction {
  incidentId: string;
  service: string;
  action: string;
  /** When the action started (ms since the epoch). */
  at: number;
}

/** A held set of target locks; `release` is idempotent. */
export interface HeldTargets {
  /** True when another incident held one of the targets and this one had to wait. */
  waited: boolean;
  release(): void;
}

/**
 * The runtime object a service's actions change, as a lock key: two services configured on the
 * same container or Deployment share one key, so they can never be acted on twice at once.
 */
export function targetKey(service: string, config: ServiceConfig | undefined): string {
  if (config?.docker)
    return `docker ${config.docker.host ?? ''} ${config.docker.container ?? JSON.stringify(Object.entries(config.docker.labels ?? {}).sort())}`;
  if (config?.kubernetes)
    return `kubernetes ${config.kubernetes.context ?? ''} ${config.kubernetes.namespace}/${config.kubernetes.deployment}`;
  if (config?.command) return `command ${JSON.stringify(config.command.restart)}`;
  if (config?.github) return `github ${config.github.repo.toLowerCase()}`;
  return `service ${service}`;
}

/**
 * One lock per action target, shared by every door of a process: an incident holds the locks
 * of the targets it acts on from its decision to act until its verification ends. Waiters are
 * served in arrival order; several keys are always taken in sorted order, so two incidents
 * that need the same targets can never deadlock.
 */
export class TargetLocks {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly holders = new Map<string, string>();
  private readonly actions = new Map<string, TargetAction>();

  /** Waits for every key in `keys` and holds them for `incidentId`. */
  async acquire(keys: readonly string[], incidentId: string): Promise<HeldTargets> {
    const releases: (() => void)[] = [];
    let waited = false;
    for (const key of [...new Set(keys)].sort()) {
      const previous = this.tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      const tail = previous.then(() => mine);
      if (this.tails.has(key)) waited = true;
      this.tails.set(key, tail);
      await previous;
      this.holders.set(key, incidentId);
      releases.push(() => {
        if (this.holders.get(key) === incidentId) this.holders.delete(key);
        if (this.tails.get(key) === tail) this.tails.delete(key);
        release();
      });
    }
    let released = false;
    return {
      waited,
      release: () => {
        if (released) return;
        released = true;
        for (const release of releases.reverse()) release();
      },
    };
  }

  /** The incident holding `key`, if any. */
  holder(key: string): string | undefined {
    return this.holders.get(key);
  }

  /** Remembers that an action on `key` started. */
  started(key: string, action: TargetAction): void {
    this.actions.set(key, action);
  }

  /** The last action started on `key` at or after `since`, if any. */
  actedSince(key: string, since: number): TargetAction | undefined {
    const last = this.actions.get(key);
    return last && last.at >= since ? last : undefined;
  }
}

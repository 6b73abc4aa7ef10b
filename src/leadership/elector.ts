/** What decides which replica acts: a Kubernetes Lease or a Postgres advisory lock. */
export interface Elector {
  /** Starts campaigning; resolves after the first attempt. */
  start(): Promise<void>;
  /** Stops campaigning and gives the leadership up, so another replica takes over at once. */
  stop(): Promise<void>;
  /** True while this replica leads and has confirmed it recently enough to act. */
  isLeader(): boolean;
  /** The identity this replica last saw leading. */
  leader(): string | undefined;
  /** Why this replica must not act now, or undefined while it leads. */
  notLeadingBecause(): string | undefined;
}

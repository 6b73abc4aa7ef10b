/** What is left of `T` once a value is known to be truthy (`cond && value` checks narrow to the value). */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

/** Polls until `check` returns a truthy value or the time is up. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

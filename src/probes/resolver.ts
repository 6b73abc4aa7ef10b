import { Resolver } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';

/**
 * A lookup function that asks the given DNS servers (e.g. Docker's embedded 127.0.0.11, or a
 * cluster's DNS) instead of the system resolver, for `net`/`http` `lookup` options.
 * Returns undefined when no servers are configured: the system resolver is used.
 */
export function createLookup(servers: readonly string[] | undefined): LookupFunction | undefined {
  if (!servers || servers.length === 0) return undefined;
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([...servers]);
  const lookup = (
    hostname: string,
    options: { all?: boolean; family?: number | string },
    callback: (...args: unknown[]) => void,
  ) => {
    const family = isIP(hostname);
    const answer = (address: string, fam: number) =>
      options?.all ? callback(null, [{ address, family: fam }]) : callback(null, address, fam);
    if (family !== 0) return answer(hostname, family);
    if (hostname === 'localhost') return answer('127.0.0.1', 4);
    resolver.resolve4(hostname).then(
      (addresses) => answer(addresses[0], 4),
      (error: NodeJS.ErrnoException) => {
        const code =
          error.code === 'ENODATA' || error.code === 'ENOTFOUND'
            ? 'ENOTFOUND'
            : error.code === 'ETIMEOUT'
              ? 'EAI_AGAIN'
              : (error.code ?? 'ENOTFOUND');
        callback(Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), { code, hostname }));
      },
    );
  };
  return lookup as unknown as LookupFunction;
}

/** Resolves a name with the lookup, or the system resolver when there is none. */
export function resolveWith(lookup: LookupFunction, hostname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    lookup(hostname, {}, (error, address) => (error ? reject(error) : resolve(String(address))));
  });
}

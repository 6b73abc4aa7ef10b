import type { Config } from '../config/schema.js';
import type { Store } from './store.js';

/**
 * The store the configuration names: Postgres when `store.url` is set (several replicas share it),
 * else the embedded SQLite file at `store.path`. Opening checks the store and upgrades its schema;
 * a store that cannot be used is a StoreError naming `store.url` or `store.path`.
 */
export async function openStore(store: Config['store']): Promise<Store> {
  if (store.url) {
    const { PostgresStore } = await import('./postgres-store.js');
    return PostgresStore.open(store.url);
  }
  const { SqliteStore } = await import('./sqlite-store.js');
  return new SqliteStore(store.path);
}

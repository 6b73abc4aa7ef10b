import { redactDeep, type Redactor } from '../redact.js';
import type { Store } from './store.js';

const WRITES = new Set<PropertyKey>([
  'saveIncident',
  'updateIncident',
  'saveApproval',
  'transitionApproval',
  'appendAudit',
  'saveThread',
  'enqueueWork',
]);

/**
 * The store behind a redactor: every record written passes through it first, so no secret
 * that slipped past the doors (probe output, runtime logs, alert text, errors) is ever
 * persisted, and so none can come back out through the API, the audit export or a restart.
 * A transaction's work gets the transaction's store behind the same redactor.
 */
export function redactingStore(store: Store, redact: Redactor): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (WRITES.has(property))
        return (...args: unknown[]) =>
          value.apply(
            target,
            args.map((arg) => redactDeep(arg, redact)),
          );
      if (property === 'transaction')
        return <T>(work: (tx: Store) => Promise<T>) => target.transaction((tx) => work(redactingStore(tx, redact)));
      return value.bind(target);
    },
  });
}

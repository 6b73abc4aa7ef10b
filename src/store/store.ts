/** The Store port lives with the engine that needs it; the SQLite implementation lives here. */
export type { ApprovalRecord, AuditEntry, StoredThread, Store } from '../engine/ports/store.js';

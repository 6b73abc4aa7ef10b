import type { IncidentRecord } from '../../src/engine/api.js';
import type { ApprovalRecord } from '../../src/store/store.js';

/** An open incident on `api`, changed by `over`. */
export const incidentRecord = (over: Partial<IncidentRecord> & { id: string }): IncidentRecord => ({
  service: 'api',
  status: 'open',
  source: 'alert',
  openedAt: '2025-01-01T00:00:00.000Z',
  alertCount: 1,
  ...over,
});

/** A pending approval to restart `api`, changed by `over`. */
export const approvalRecord = (over: Partial<ApprovalRecord> = {}): ApprovalRecord => ({
  id: 'apr_00000001',
  incidentId: 'inc_1',
  service: 'api',
  step: { action: 'restart', target: 'api', risk: 'risky', reason: 'api does not answer' },
  approvers: ['@ana', '@bo'],
  requiredApprovals: 1,
  expiresAt: '2030-01-01T00:00:00.000Z',
  status: 'pending',
  approvedBy: [],
  ...over,
});

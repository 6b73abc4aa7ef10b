import { serviceConfig } from '../config/own.js';
import type { Config } from '../config/schema.js';
import type { Actor } from './api.js';

/** Who may approve actions on a service, from the service policy or the global and platform lists. */
export function approverPolicy(config: Config): {
  approversOf: (service: string) => string[];
  mayApprove: (actor: Actor, service: string) => boolean;
} {
  const approversOf = (service: string): string[] => {
    const policy = serviceConfig(config, service)?.policy.approvers ?? [];
    if (policy.length > 0) return policy;
    return [
      ...config.healing.approvers,
      ...(config.slack?.approvers ?? []),
      ...(config.slack?.approverGroups ?? []),
      ...(config.discord?.approvers ?? []),
      ...(config.discord?.approverRoles ?? []),
    ];
  };
  const mayApprove = (actor: Actor, service: string): boolean => {
    // The terminal is the local operator's own door; healbot itself only withdraws requests.
    if (actor.platform === 'cli' || actor.platform === 'console' || actor.platform === 'healbot') return true;
    // A named API credential approves only when listed as `api:<name>`; the webhook token never does.
    if (actor.platform === 'api') return approversOf(service).includes(`api:${actor.id}`);
    if (actor.platform === 'webhook') return false;
    const policy = serviceConfig(config, service)?.policy.approvers ?? [];
    const platformUsers =
      actor.platform === 'slack' ? (config.slack?.approvers ?? []) : (config.discord?.approvers ?? []);
    const platformRoles =
      actor.platform === 'slack' ? (config.slack?.approverGroups ?? []) : (config.discord?.approverRoles ?? []);
    const users = policy.length > 0 ? policy : [...config.healing.approvers, ...platformUsers];
    const roles = policy.length > 0 ? policy : [...config.healing.approvers, ...platformRoles];
    return users.includes(actor.id) || (actor.roles ?? []).some((role) => roles.includes(role));
  };
  return { approversOf, mayApprove };
}

import type { DependencyAddress } from '../classify/error-classifier.js';
import type { Config, ServiceConfig } from '../config/schema.js';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const IP = /^(\d+\.\d+\.\d+\.\d+|[0-9a-f:]+)$/i;

/** host and port of each probe's target, for matching an address an error names. */
function probeAddresses(service: ServiceConfig): { host: string; port?: number }[] {
  return service.probes.flatMap((probe) => {
    if (probe.tcp) {
      const match = /^\[?([^\]]+)\]?:(\d+)$/.exec(probe.tcp);
      return match ? [{ host: match[1], port: Number(match[2]) }] : [];
    }
    const url = typeof probe.http === 'string' ? probe.http : probe.http?.url;
    if (!url) return probe.dns ? [{ host: probe.dns }] : [];
    const parsed = new URL(url);
    return [
      {
        host: parsed.hostname.replace(/^\[|\]$/g, ''),
        port: Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80)),
      },
    ];
  });
}

/** Names a service is known by: its own, its container, its Kubernetes Service and Deployment. */
function namesOf(name: string, service: ServiceConfig): string[] {
  return [name, service.docker?.container, service.kubernetes?.service, service.kubernetes?.deployment].filter(
    (n): n is string => Boolean(n),
  );
}

/**
 * The configured service an infrastructure error's address belongs to: by name (service,
 * container, Kubernetes Service), by a probe's host and port, or, for a loopback or bare IP,
 * by a probe on the same port. `except` is the service that reported the error.
 */
export function dependencyService(config: Config, address: DependencyAddress, except?: string): string | undefined {
  const { host, port } = address;
  if (!host) return undefined;
  const candidates = Object.entries(config.services).filter(([name]) => name !== except);
  const lower = host.toLowerCase();
  const byName = candidates.find(([name, service]) =>
    namesOf(name, service).some((n) => n.toLowerCase() === lower || lower.startsWith(`${n.toLowerCase()}.`)),
  );
  if (byName) return byName[0];
  const byProbe = candidates.find(([, service]) =>
    probeAddresses(service).some(
      (a) => a.host.toLowerCase() === lower && (port === undefined || a.port === undefined || a.port === port),
    ),
  );
  if (byProbe) return byProbe[0];
  if (port !== undefined && (LOOPBACK.test(host) || IP.test(host))) {
    const byPort = candidates.filter(([, service]) => probeAddresses(service).some((a) => a.port === port));
    if (byPort.length === 1) return byPort[0][0];
  }
  return undefined;
}

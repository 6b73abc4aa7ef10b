import type { LookupFunction } from 'node:net';
import type { ProbeConfig } from '../config/schema.js';
import { CommandProbe } from './command.js';
import { DnsProbe } from './dns.js';
import { HttpProbe } from './http.js';
import type { Probe } from './probe.js';
import { TcpProbe } from './tcp.js';

export type { Probe, ProbeOutcome } from './probe.js';

/** Builds the probe a config entry describes. */
export function createProbe(config: ProbeConfig, lookup?: LookupFunction): Probe {
  if (config.http !== undefined) {
    const http = typeof config.http === 'string' ? { url: config.http } : config.http;
    const timeoutMs = (typeof config.http === 'string' ? undefined : config.http.timeoutMs) ?? config.timeoutMs;
    return new HttpProbe(config.name, http, timeoutMs, lookup);
  }
  if (config.tcp !== undefined) return new TcpProbe(config.name, config.tcp, config.timeoutMs, lookup);
  if (config.dns !== undefined) return new DnsProbe(config.name, config.dns, config.timeoutMs, lookup);
  if (config.command !== undefined) return new CommandProbe(config.name, config.command, config.timeoutMs);
  throw new Error(`probe ${config.name} has no check`);
}

export { probeTarget } from '../engine/probe-target.js';

/** A probe whose failure text (a command's last line, a server's error) is redacted as it comes in. */
export function redactingProbe(probe: Probe, redact: (text: string) => string): Probe {
  return {
    name: probe.name,
    kind: probe.kind,
    timeoutMs: probe.timeoutMs,
    async check(signal) {
      const outcome = await probe.check(signal);
      return outcome.error ? { ...outcome, error: redact(outcome.error) } : outcome;
    },
  };
}

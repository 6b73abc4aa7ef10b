import { execa } from 'execa';
import type { CommandOutcome } from '../engine/runbook-run.js';

/** What a runbook command inherits from healbot's environment: where tools are and which daemon or cluster to talk to, never healbot's own tokens. */
export const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ', 'DOCKER_HOST', 'KUBECONFIG'] as const;

/**
 * Runs a runbook command: an argv array straight to execve (execa, never a shell), stdin
 * closed, a minimal environment, killed at its deadline.
 */
export async function runArgv(
  argv: readonly string[],
  options: { timeoutMs: number },
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandOutcome> {
  const [file, ...args] = argv;
  const inherited = Object.fromEntries(
    INHERITED_ENV.filter((name) => env[name] !== undefined).map((name) => [name, env[name]]),
  );
  const result = await execa(file, args, {
    timeout: options.timeoutMs,
    reject: false,
    stdin: 'ignore',
    all: true,
    forceKillAfterDelay: 2000,
    extendEnv: false,
    env: inherited,
  });
  return {
    exitCode: result.exitCode,
    output: result.all ?? '',
    timedOut: result.timedOut,
    ...(result.exitCode === undefined ? { error: result.originalMessage ?? result.shortMessage } : {}),
  };
}

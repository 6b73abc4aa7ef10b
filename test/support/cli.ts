import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';

/** The built CLI, from the test sources (vitest) or from their own build in dist/ (benchmarks). */
export const CLI = resolve(
  import.meta.dirname,
  /[/\\]dist[/\\]test[/\\]support$/.test(import.meta.dirname) ? '../../src/cli/main.js' : '../../dist/src/cli/main.js',
);

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  json?: any;
}

/** Runs the built CLI as a user would: a real process, its own stdout, stderr and exit code. */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const result = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    env: { HEALING_ENABLED: 'true', ...options.env },
    input: options.input ?? '',
    timeout: options.timeoutMs ?? 90_000,
  });
  let json: unknown;
  if (args.includes('--json')) {
    try {
      json = JSON.parse(result.stdout);
    } catch {
      json = undefined;
    }
  }
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr, json };
}

/** A temporary directory holding config files, removed by `cleanup`. */
export function configDir(): {
  write(name: string, config: unknown): string;
  path(name: string): string;
  cleanup(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'healbot-cli-'));
  return {
    write(name, config) {
      const file = join(dir, name);
      writeFileSync(file, typeof config === 'string' ? config : stringify(config));
      return file;
    },
    path: (name) => join(dir, name),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { inheritPolicy } from './policy-defaults.js';
import { configSchema, type Config } from './schema.js';
import { topologyProblems } from './topology.js';

/** Formats a zod issue path as `services.api.probes[1].http`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** Replaces `${NAME}` (and `${NAME:-default}`) in every string of the tree with values from `env`. */
function interpolate(
  value: unknown,
  env: Record<string, string | undefined>,
  path: PropertyKey[],
  problems: { path: string; message: string }[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
      (_m, name: string, fallback: string | undefined) => {
        const found = env[name];
        if (found !== undefined && found !== '') return found;
        if (fallback !== undefined) return fallback;
        problems.push({ path: formatPath(path), message: `environment variable ${name} is not set` });
        return '';
      },
    );
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, [...path, i], problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...path, k], problems)]));
  }
  return value;
}

function zodProblems(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys')
      return { path, message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` };
    if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message))
      return { path, message: `is required (${issue.expected})` };
    return { path, message: issue.message };
  });
}

/**
 * Validates an already parsed configuration tree: schema, then topology (dependencies,
 * cycles, probe names). Pure: the environment is passed in.
 */
export function parseConfig(raw: unknown, env: Record<string, string | undefined> = {}, source?: string): Config {
  const problems: { path: string; message: string }[] = [];
  const expanded = interpolate(raw ?? {}, env, [], problems);
  if (problems.length > 0) throw new ConfigError(problems, source);
  const result = configSchema.safeParse(inheritPolicy(expanded));
  if (!result.success) throw new ConfigError(zodProblems(result.error), source);
  const topology = topologyProblems(result.data);
  if (topology.length > 0) throw new ConfigError(topology, source);
  return result.data;
}

/** Parses YAML text into a validated configuration. */
export function parseConfigText(text: string, env: Record<string, string | undefined> = {}, source?: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const line = lineCounter.linePos(first.pos[0]);
    const where = `line ${line.line}, column ${line.col}`;
    throw new ConfigError([{ path: where, message: `invalid YAML: ${first.message.split('\n')[0]}` }], source);
  }
  return parseConfig(doc.toJS(), env, source);
}

/** Reads and validates a configuration file. */
export async function loadConfig(path: string, env: Record<string, string | undefined> = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new ConfigError([{ path: '', message: `cannot read config: ${reason}` }], path, { cause: error });
  }
  return parseConfigText(text, env, path);
}

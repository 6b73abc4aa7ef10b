import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commandDefinitions } from '../commands/index.js';
import { configSchema, serviceSchema } from '../src/config/schema.js';
import { buildProgram } from '../src/cli/program.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const section = (title: string) => readme.split(`## ${title}`)[1]?.split('\n## ')[0] ?? '';
const firstColumn = (table: string) => [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);

describe('README stays true to the code', () => {
  it('lists exactly the chat commands that are registered', () => {
    const documented = firstColumn(section('Chat commands')).sort();
    expect(documented).toEqual(commandDefinitions.map((d) => d.usage).sort());
  });

  it('documents every top-level config option and every service option', () => {
    const documented = firstColumn(section('Configuration'));
    const topLevel = Object.keys(configSchema.shape).filter((k) => k !== 'services');
    for (const key of topLevel) expect(documented, key).toContain(key);
    const serviceKeys = Object.keys(serviceSchema.shape);
    for (const key of serviceKeys)
      expect(
        documented.some((d) => d.startsWith(`services.<name>.${key}`)),
        key,
      ).toBe(true);
  });

  it('lists every CLI subcommand', () => {
    const documented = firstColumn(section('CLI')).map((usage) => usage.split(' ')[1]);
    const registered = buildProgram().commands.map((c) => c.name());
    expect(documented.sort()).toEqual(registered.sort());
  });

  it('gives exactly two quick-start commands, the second being the test command', () => {
    const block = section('Quick start').split('```sh')[1].split('```')[0].trim().split('\n');
    expect(block).toHaveLength(2);
    expect(block[1]).toMatch(/^npm test\b/);
    expect(readFileSync(new URL('../.ci/run', import.meta.url), 'utf8')).toMatch(/^npm test$/m);
  });
});

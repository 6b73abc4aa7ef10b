import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const engineDir = join(root, 'src/engine');

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );

/** Every `from '…'` and `import('…')` of a source file, type-only imports included. */
const importsOf = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*)'([^']+)'/g)].map((m) => m[1]);

/** The files a module loads at run time, transitively (type-only imports load nothing). */
function runtimeClosure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(/^import\s+(?!type\b)[^'"]*?['"]([^'"]+)['"]/gm)) {
      const spec = match[1];
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('the engine depends on nothing below it', () => {
  it('imports nothing from runtimes/, probes/, store/, server/, monitor/, adapters/ or commands/', () => {
    const offending = sources(engineDir).flatMap((file) =>
      importsOf(file)
        .filter((spec) => spec.startsWith('.'))
        .map((spec) => resolve(dirname(file), spec))
        .filter((target) => /\/(src\/(runtimes|probes|store|server|monitor)|adapters|commands)\//.test(target))
        .map((target) => `${file.slice(root.length + 1)} imports ${target.slice(root.length + 1)}`),
    );
    expect(offending).toEqual([]);
  });

  it('loads no SDK, process runner or chat platform when the engine is loaded', () => {
    const { packages } = runtimeClosure(join(engineDir, 'engine.ts'));
    for (const heavy of [
      'execa',
      'dockerode',
      '@kubernetes/client-node',
      'discord.js',
      '@slack/bolt',
      'better-sqlite3',
    ])
      expect([...packages], heavy).not.toContain(heavy);
    expect(packages.size).toBeGreaterThan(0);
  });
});

describe('serve and the CLI load a runtime client only when the config uses it', () => {
  it('reaches neither dockerode nor the Kubernetes client through static imports', () => {
    for (const entry of ['src/serve.ts', 'src/cli/program.ts']) {
      const { packages } = runtimeClosure(join(root, entry));
      expect([...packages], entry).not.toContain('dockerode');
      expect([...packages], entry).not.toContain('@kubernetes/client-node');
      expect([...packages], entry).toContain('zod');
    }
  });
});

/**
 * What `npm pack` ships: the built program, the manifests, the examples, README and LICENSE;
 * nothing from tests or bench, and no source maps (their sources are not shipped).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/node-image.js';

const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

function filesUnder(dir: string, ending: RegExp): string[] {
  return readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => ending.test(f))
    .map((f) => relative(REPO_ROOT, join(REPO_ROOT, dir, f)));
}

describe('npm pack', async () => {
  // --ignore-scripts: the test run already built dist/ (npm test runs tsc first); prepack's own build is checked below.
  const packed = await execa('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: REPO_ROOT,
    timeout: 120_000,
  });
  const files: string[] = JSON.parse(packed.stdout)[0].files.map((f: { path: string }) => f.path);

  it('ships every compiled module of src, adapters and commands, and the CLI the bin names', () => {
    for (const dir of ['src', 'adapters', 'commands']) {
      const expected = filesUnder(dir, /\.ts$/).map((f) => `dist/${f.replace(/\.ts$/, '.js')}`);
      expect(expected.length).toBeGreaterThan(0);
      expect(files).toEqual(expect.arrayContaining(expected));
    }
    expect(files).toContain(packageJson.bin.healbot);
  });

  it('ships the manifests, the examples, README, LICENSE and the Slack app manifest', () => {
    const expected = [
      ...filesUnder('deploy', /\.yaml$/),
      ...filesUnder('examples', /\.(ya?ml|json)$/),
      'README.md',
      'LICENSE',
      'manifest.yml',
      'package.json',
    ];
    expect(files).toEqual(expect.arrayContaining(expected));
    expect(readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(packageJson.license).toBe('MIT');
  });

  it('ships nothing from tests or bench, and no source maps', () => {
    expect(files.filter((f) => /(^|\/)(test|bench)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(
      files.every(
        (f) =>
          /^(dist\/(src|adapters|commands)\/|deploy\/|examples\/)/.test(f) ||
          ['README.md', 'LICENSE', 'manifest.yml', 'package.json'].includes(f),
      ),
    ).toBe(true);
  });

  it('builds what it packs without source maps', () => {
    expect(packageJson.scripts.prepack).toBe('tsc -p tsconfig.build.json');
    const build = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8'));
    expect(build.compilerOptions.sourceMap).toBe(false);
    expect(build.include).toEqual(['src', 'commands', 'adapters']);
  });
});

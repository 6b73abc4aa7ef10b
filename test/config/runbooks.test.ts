import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const base = { services: { api: { command: { restart: ['true'] } } } };

function problems(extra: Record<string, unknown>): string[] {
  try {
    parseConfig({ ...base, ...extra });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('the config was accepted');
}

describe('runbooks and patterns in config', () => {
  it('accepts a runbook with placeholders, verification and rollback, and fills defaults', () => {
    const config = parseConfig({
      ...base,
      runbooks: [
        {
          name: 'disk-full',
          when: { patterns: ['disk_full'] },
          steps: [{ name: 'prune', command: ['docker', 'image', 'prune', '-f'], timeout: '2m' }, { action: 'restart' }],
          rollback: [{ undoes: 'prune', command: ['echo', '{service}'] }],
        },
      ],
      patterns: [{ id: 'license', match: 'license .* expired', advice: 'renew it' }],
    });
    expect(config.runbooks[0]).toMatchObject({
      manualAfterFailures: 3,
      verify: [],
      steps: [{ risk: 'risky', timeout: 120_000 }, { action: 'restart' }],
    });
    expect(config.patterns[0]).toMatchObject({ confidence: 0.8, restartHelps: false, ignoreCase: true });
  });

  it('names an unknown placeholder, a step without a command, an unknown service and a rollback that undoes nothing', () => {
    expect(
      problems({
        runbooks: [
          {
            name: 'a',
            when: { services: ['nope'] },
            steps: [{ command: ['echo', '{alert.summary}'] }, { name: 'both', action: 'restart', command: ['x'] }],
            rollback: [{ undoes: 'ghost', command: ['true'] }],
          },
        ],
      }),
    ).toEqual([
      'runbooks[0].steps[0].command[1]: unknown placeholder {alert.summary}; use {service}, {container}, {namespace}, {deployment}',
      'runbooks[0].steps[1]: needs exactly one of action or command',
    ]);
    expect(
      problems({
        runbooks: [
          {
            name: 'a',
            when: { services: ['nope'] },
            steps: [{ command: ['true'] }],
            rollback: [{ undoes: 'ghost', command: ['true'] }],
          },
        ],
      }),
    ).toEqual([
      'runbooks[0].when.services[0]: unknown service "nope" (known: api)',
      'runbooks[0].rollback[0].undoes: names no step of runbook a (steps: true)',
    ]);
  });

  it('rejects a pattern that is not a regular expression', () => {
    expect(problems({ patterns: [{ id: 'bad', match: 'oops(', advice: 'x' }] })[0]).toMatch(
      /^patterns\[0\]\.match: is not a regular expression: /,
    );
  });
});

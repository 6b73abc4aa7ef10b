import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/duration.js';
import { findCycle } from '../../src/config/topology.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['0.5s', 500],
    [' 10 s ', 10_000],
    ['1500', 1500],
    [1500, 1500],
    [0, 0],
  ])('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['soon', '5 minutes', '-1s', '1w', '', 's', Number.NaN, -1, Number.POSITIVE_INFINITY])(
    '%j is not a duration',
    (input) => {
      expect(parseDuration(input)).toBeUndefined();
    },
  );
});

describe('findCycle', () => {
  it('finds none in a DAG', () => {
    expect(findCycle({ a: ['b', 'c'], b: ['c'], c: [] })).toBeUndefined();
  });

  it('returns the cycle closed on its first node', () => {
    expect(findCycle({ x: ['a'], a: ['b'], b: ['c'], c: ['a'] })).toEqual(['a', 'b', 'c', 'a']);
  });
});

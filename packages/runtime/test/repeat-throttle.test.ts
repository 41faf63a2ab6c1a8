import { describe, expect, it } from 'vitest';

import { RepeatThrottle } from '../src/repeat-throttle.js';

describe('RepeatThrottle', () => {
  it('passes the first repeats, then summarises per key', () => {
    let now = 0;
    const summaries: { key: string; suppressed: number }[] = [];
    const throttle = new RepeatThrottle<string>({
      windowMs: 60_000,
      freePerWindow: 2,
      maxKeys: 10,
      clock: () => now,
      onSummary: ({ key, suppressed }) => summaries.push({ key, suppressed }),
    });
    expect([throttle.admit('a', 'x'), throttle.admit('a', 'x'), throttle.admit('a', 'x'), throttle.admit('a', 'x')]).toEqual([true, true, false, false]);
    expect(throttle.admit('b', 'y')).toBe(true);
    now = 61_000;
    throttle.flush();
    expect(summaries).toEqual([{ key: 'a', suppressed: 2 }]);
  });

  it('shares one window past the key limit', () => {
    const summaries: string[] = [];
    const throttle = new RepeatThrottle<string>({
      windowMs: 60_000,
      freePerWindow: 1,
      maxKeys: 1,
      overflowKeyOf: (sample) => `overflow-${sample}`,
      onSummary: ({ key }) => summaries.push(key),
    });
    expect(throttle.admit('first', 'login')).toBe(true);
    expect(throttle.admit('second', 'login')).toBe(true);
    expect(throttle.admit('third', 'login')).toBe(false);
    throttle.flush();
    expect(summaries).toEqual(['overflow-login']);
  });
});

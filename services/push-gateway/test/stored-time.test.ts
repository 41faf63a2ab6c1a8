import { describe, expect, it } from 'vitest';

import { storedTimeMs } from '../src/history.js';

describe('storedTimeMs', () => {
  it('keeps the order of two messages stored in the same millisecond', () => {
    const fallback = new Date('2026-12-04T10:00:00.123Z');
    const first = storedTimeMs('2026-12-04T10:00:00.123456789Z', fallback);
    const second = storedTimeMs('2026-12-04T10:00:00.123987654Z', fallback);
    expect(Math.floor(first)).toBe(fallback.getTime());
    expect(second).toBeGreaterThan(first);
  });

  it('falls back to the Date without a fraction', () => {
    const fallback = new Date('2026-12-04T10:00:00.000Z');
    expect(storedTimeMs('2026-12-04T10:00:00Z', fallback)).toBe(fallback.getTime());
  });
});

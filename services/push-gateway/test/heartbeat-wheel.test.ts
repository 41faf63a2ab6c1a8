import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { HeartbeatWheel } from '../src/heartbeat-wheel.js';

class Target {
  readonly pings: number[] = [];
  constructor(readonly onPing: (target: Target) => void = () => {}) {}
  heartbeat(): void {
    this.pings.push(Date.now());
    this.onPing(this);
  }
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('HeartbeatWheel', () => {
  it('pings each member once per interval', () => {
    const wheel = new HeartbeatWheel<Target>(30_000);
    const targets = Array.from({ length: 1000 }, () => new Target());
    targets.forEach((target) => wheel.add(target));
    vi.advanceTimersByTime(90_000);
    for (const target of targets) {
      expect(target.pings).toHaveLength(3);
      expect((target.pings[1] ?? 0) - (target.pings[0] ?? 0)).toBe(30_000);
    }
    wheel.stop();
  });

  it('spreads pings over the interval', () => {
    const wheel = new HeartbeatWheel<Target>(30_000);
    const targets = Array.from({ length: 1200 }, () => new Target());
    targets.forEach((target) => wheel.add(target));
    const perTurn = new Map<number, number>();
    vi.advanceTimersByTime(30_000);
    for (const target of targets) {
      const at = target.pings[0] ?? -1;
      perTurn.set(at, (perTurn.get(at) ?? 0) + 1);
    }
    // 120 turns of 250 ms, ten pings in each, instead of 1,200 pings at once.
    expect(perTurn.size).toBe(120);
    expect(Math.max(...perTurn.values())).toBe(10);
    wheel.stop();
  });

  it('stops pinging deleted members', () => {
    const wheel = new HeartbeatWheel<Target>(1000);
    const staying = new Target();
    const leaving = new Target((target) => wheel.delete(target));
    const deleted = new Target();
    [staying, leaving, deleted].forEach((target) => wheel.add(target));
    wheel.delete(deleted);
    vi.advanceTimersByTime(3000);
    expect(staying.pings).toHaveLength(3);
    expect(leaving.pings).toHaveLength(1);
    expect(deleted.pings).toHaveLength(0);
    expect(wheel.size).toBe(1);
    wheel.stop();
  });

  it('pings nothing after stop', () => {
    const wheel = new HeartbeatWheel<Target>(1000);
    const target = new Target();
    wheel.add(target);
    wheel.stop();
    vi.advanceTimersByTime(5000);
    expect(target.pings).toHaveLength(0);
  });
  it('refills the slots sessions left', () => {
    const wheel = new HeartbeatWheel<Target>(1000);
    const first = Array.from({ length: 400 }, () => new Target());
    first.forEach((target) => wheel.add(target));
    // The sessions of the first two slots leave, and as many new ones arrive.
    first.filter((_target, index) => index % 4 < 2).forEach((target) => wheel.delete(target));
    const second = Array.from({ length: 200 }, () => new Target());
    second.forEach((target) => wheel.add(target));
    const perTurn = new Map<number, number>();
    vi.advanceTimersByTime(1000);
    for (const target of [...first, ...second]) {
      for (const at of target.pings) {
        perTurn.set(at, (perTurn.get(at) ?? 0) + 1);
      }
    }
    expect([...perTurn.values()]).toEqual([100, 100, 100, 100]);
    wheel.stop();
  });
});

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { describe, expect, it } from 'vitest';

import { detached, detachedOptional } from '../src/index.js';

// A full collection on demand, so the test can see what a retained value keeps alive.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Returns the heap bytes still in use after `copy` took one value from each of 200 message texts of 100 KB. */
function retainedBytes(copy: (value: string) => string): number {
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const values: string[] = [];
  for (let index = 0; index < 200; index += 1) {
    // Decoded from bytes, as the framer decodes a message: a flat string, not a rope.
    const body = Buffer.from(`Event: Newchannel\r\nUniqueid: 1796413029.${index}\r\n${'Variable: x\r\n'.repeat(8000)}`, 'latin1').toString('latin1');
    values.push(copy(body.slice(body.indexOf('1796413029'), body.indexOf('\r\n', 30))));
  }
  collectGarbage();
  const retained = process.memoryUsage().heapUsed - before;
  expect(values).toHaveLength(200);
  return retained;
}

describe('detached', () => {
  it('returns an equal string', () => {
    expect(detached('PJSIP/201-0000003c')).toBe('PJSIP/201-0000003c');
    expect(detached('201')).toBe('201');
    expect(detached('')).toBe('');
    expect(detachedOptional(undefined)).toBeUndefined();
    expect(detachedOptional('1796413029.90')).toBe('1796413029.90');
  });

  it('keeps a Uniqueid without the message text it was read from', () => {
    // A plain slice of 13 characters or more keeps its whole 100 KB message alive: about 20 MB here.
    expect(retainedBytes((value) => value)).toBeGreaterThan(10_000_000);
    expect(retainedBytes(detached)).toBeLessThan(1_000_000);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { AmiFramer } from '../src/index.js';

const captures = join(import.meta.dirname, '../../../testdata/ami');
const amiFiles = readdirSync(captures)
  .filter((name) => name.endsWith('.ami'))
  .sort();
const callCaptures = amiFiles.filter((name) => !name.startsWith('protocol-') && name !== 'load.ami');

interface Frame {
  banner: string[];
  messages: string[];
}

/** Frames `chunks` and returns every banner and message as comparable text. */
function frameChunks(chunks: readonly Buffer[], banner = true): Frame {
  const result: Frame = { banner: [], messages: [] };
  const framer = new AmiFramer({
    banner,
    onBanner: (line) => result.banner.push(line),
    onMessage: (message) => result.messages.push(JSON.stringify([message.fields, message.fallbackDecoded ?? null, message.truncated])),
  });
  for (const chunk of chunks) {
    framer.push(chunk, 0);
  }
  framer.end(0);
  return result;
}

function cutAt(data: Buffer, positions: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let start = 0;
  for (const position of [...positions].sort((a, b) => a - b)) {
    chunks.push(data.subarray(start, position));
    start = position;
  }
  chunks.push(data.subarray(start));
  return chunks;
}

/** Byte offsets where each message starts (after the banner line and after each blank line). */
function messageStarts(data: Buffer): number[] {
  const starts = [0, data.indexOf('\n') + 1];
  let at = data.indexOf('\r\n\r\n', starts[1]);
  while (at !== -1) {
    starts.push(at + 4);
    at = data.indexOf('\r\n\r\n', at + 4);
  }
  return starts;
}

// A seeded generator, so a failure names a position that reproduces.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state / 0x1_0000_0000;
  };
}

describe('framing is independent of read boundaries', () => {
  it.each(amiFiles)('%s one byte per read', (name) => {
    const data = readFileSync(join(captures, name));
    const whole = frameChunks([data]);
    const bytes = Array.from({ length: data.length }, (_, index) => data.subarray(index, index + 1));
    expect(frameChunks(bytes)).toEqual(whole);
  });

  // Splitting the whole file at every position costs O(n²). The framer keeps no state across a
  // message boundary except the bytes of the unfinished message, so each split is checked on
  // the messages around it: from the message before the split to the one after it.
  it.each(callCaptures)('%s split at every byte position', (name) => {
    const data = readFileSync(join(captures, name));
    const starts = messageStarts(data);
    let checked = 0;
    for (let message = 0; message < starts.length - 1; message += 1) {
      const windowStart = starts[Math.max(0, message - 1)] as number;
      const windowEnd = starts[Math.min(starts.length - 1, message + 2)] as number;
      const window = data.subarray(windowStart, windowEnd);
      const hasBanner = windowStart === 0;
      const whole = frameChunks([window], hasBanner);
      for (let position = starts[message] as number; position < (starts[message + 1] as number); position += 1) {
        const split = frameChunks(cutAt(window, [position - windowStart]), hasBanner);
        if (JSON.stringify(split) !== JSON.stringify(whole)) {
          expect({ position, split }).toEqual({ position, split: whole });
        }
        checked += 1;
      }
    }
    expect(checked).toBe(data.length);
  });

  it.each(callCaptures)('%s split at every 97th byte, whole stream', (name) => {
    const data = readFileSync(join(captures, name));
    const whole = frameChunks([data]);
    for (let position = 1; position < data.length; position += 97) {
      expect(frameChunks(cutAt(data, [position])), `split at ${position}`).toEqual(whole);
    }
  });

  it('load.ami split at thousands of random positions', () => {
    const data = readFileSync(join(captures, 'load.ami'));
    const whole = frameChunks([data]);
    expect(whole.messages).toHaveLength(3176);
    const next = random(20261204);

    // Several thousand cuts at once: most reads end inside a message.
    for (let run = 0; run < 3; run += 1) {
      const positions = Array.from({ length: 3000 }, () => 1 + Math.floor(next() * (data.length - 1)));
      expect(frameChunks(cutAt(data, positions)), `run ${run}`).toEqual(whole);
    }

    // And 2000 single cuts, each checked on the three messages around it.
    const starts = messageStarts(data);
    for (let cut = 0; cut < 2000; cut += 1) {
      const position = 1 + Math.floor(next() * (data.length - 1));
      let message = starts.findIndex((start) => start > position) - 1;
      if (message < 0) {
        message = starts.length - 1;
      }
      const windowStart = starts[Math.max(0, message - 1)] as number;
      const windowEnd = starts[Math.min(starts.length - 1, message + 2)] as number;
      const window = data.subarray(windowStart, windowEnd);
      const hasBanner = windowStart === 0;
      expect(frameChunks(cutAt(window, [position - windowStart]), hasBanner), `split at ${position}`).toEqual(frameChunks([window], hasBanner));
    }
  });

  it.each(amiFiles)('%s yields the messages the recording holds', (name) => {
    const data = readFileSync(join(captures, name));
    const framed = frameChunks([data]);
    expect(framed.banner).toEqual(['Asterisk Call Manager/11.0.0']);
    expect(framed.messages).toHaveLength(messageStarts(data).length - 2);
    expect(framed.messages.every((text) => !text.endsWith('true]'))).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';

import { AmiFramer, type AmiMessage } from '../src/index.js';

const VALID = 'Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/101-0000000b\r\nUniqueid: 1796412664.11\r\nCause: 16\r\n\r\n';
const VALID_PAIRS = [
  ['Event', 'Hangup'],
  ['Privilege', 'call,all'],
  ['Channel', 'PJSIP/101-0000000b'],
  ['Uniqueid', '1796412664.11'],
  ['Cause', '16'],
];

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state / 0x1_0000_0000;
  };
}

/** Frames `data` in random read sizes; returns the messages, never throwing. */
function frameRandomly(data: Buffer, next: () => number, maxMessageBytes?: number): AmiMessage[] {
  const messages: AmiMessage[] = [];
  const framer = new AmiFramer({
    banner: next() < 0.5,
    onMessage: (message) => messages.push(message),
    ...(maxMessageBytes === undefined ? {} : { maxMessageBytes }),
  });
  let position = 0;
  while (position < data.length) {
    const size = 1 + Math.floor(next() * 700);
    framer.push(data.subarray(position, position + size), 0);
    position += size;
  }
  framer.end(0);
  return messages;
}

function randomBytes(next: () => number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index += 1) {
    // One byte in eight is a line break, so garbage also forms lines and blank lines.
    bytes[index] = next() < 0.125 ? 0x0a : Math.floor(next() * 256);
  }
  return bytes;
}

describe('framer under fuzzing', () => {
  it('random bytes keep the next event', () => {
    const next = random(1);
    for (let round = 0; round < 2000; round += 1) {
      const garbage = randomBytes(next, Math.floor(next() * 3000));
      const separator = next() < 0.5 ? '\r\n' : '\r\n\r\n';
      const messages = frameRandomly(Buffer.concat([garbage, Buffer.from(separator + VALID)]), next);
      expect(messages.at(-1)?.pairs(), `round ${round}`).toEqual(VALID_PAIRS);
      expect(messages.at(-1)?.truncated).toBe(false);
    }
  });

  it('bytes no header has, glued in front of an event, are cut off', () => {
    const next = random(2);
    for (let round = 0; round < 1000; round += 1) {
      const glued = Buffer.from(Array.from({ length: 1 + Math.floor(next() * 20) }, () => 0x80 + Math.floor(next() * 0x80)));
      const garbage = Buffer.concat([randomBytes(next, Math.floor(next() * 500)), Buffer.from('\n'), glued]);
      const messages = frameRandomly(Buffer.concat([garbage, Buffer.from(VALID)]), next);
      expect(messages.at(-1)?.pairs(), `round ${round}`).toEqual(VALID_PAIRS);
    }
  });

  it('huge values keep the next event', () => {
    const next = random(3);
    for (const size of [10, 60_000, 900_000, 1_100_000, 3_000_000]) {
      const value = Buffer.alloc(size, 0x41 + Math.floor(next() * 26));
      const data = Buffer.concat([Buffer.from('Event: UserEvent\r\nBody: '), value, Buffer.from(`\r\n\r\n${VALID}`)]);
      const messages = frameRandomly(data, next, 1024 * 1024);
      expect(messages.at(-1)?.pairs(), `value of ${size} bytes`).toEqual(VALID_PAIRS);
      const kept = messages.find((message) => message.event === 'UserEvent');
      expect(kept?.get('Body')?.length, `value of ${size} bytes`).toBe(size < 1024 * 1024 ? size : undefined);
    }
  });

  it('cut frames keep the next event', () => {
    const next = random(4);
    const event = Buffer.from(VALID);
    for (let cut = 1; cut < event.length - 4; cut += 1) {
      for (const tail of ['\r\n\r\n', '\r\n']) {
        const truncated = event.subarray(0, cut);
        const messages = frameRandomly(Buffer.concat([truncated, Buffer.from(tail), event]), next);
        expect(messages.at(-1)?.pairs(), `cut at ${cut}, then ${JSON.stringify(tail)}`).toEqual(VALID_PAIRS);
      }
    }
  });

  it('ends mid-frame, then frames a new connection', () => {
    const event = Buffer.from(VALID);
    for (let cut = 1; cut < event.length; cut += 1) {
      const messages: AmiMessage[] = [];
      const framer = new AmiFramer({ banner: false, onMessage: (message) => messages.push(message) });
      framer.push(event.subarray(0, cut), 0);
      framer.end(0);
      framer.push(Buffer.from(`\r\n${VALID}`), 0);
      framer.end(0);
      expect(messages.at(-1)?.pairs(), `cut at ${cut}`).toEqual(VALID_PAIRS);
    }
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { EXIT_USAGE, runCli } from '../src/index.js';

const root = join(import.meta.dirname, '../../..');
const captures = join(root, 'testdata/ami');

function session(stdin: NodeJS.ReadableStream = new PassThrough(), environment: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  return {
    io: { stdout, stderr, stdin, environment, cwd: root },
    lines: () =>
      out
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as unknown),
    err: () => err,
  };
}

/** Stdin that delivers the bytes a few at a time, as a pipe from a live PBX would. */
function trickle(bytes: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += size) {
    chunks.push(bytes.subarray(start, start + size));
  }
  return Readable.from(chunks);
}

describe('cti normalize', () => {
  it('prints one object per event of a .jsonl recording, with times from t_ms', async () => {
    const run = session();
    expect(await runCli(['normalize', 'testdata/ami/inbound-answered.jsonl'], run.io)).toBe(0);
    const caller = { number: '+15550100001', name: 'Alice Example' };
    expect(run.lines()).toEqual([
      { type: 'call.ringing', callId: '1796412664.10', direction: 'inbound', caller, extension: '101' },
      { type: 'call.answered', callId: '1796412664.10', direction: 'inbound', caller, extension: '101' },
      { type: 'call.ended', callId: '1796412664.10', direction: 'inbound', caller, extension: '101', disposition: 'answered', talkSeconds: 3, hangupBy: 'caller' },
      { type: 'call.completed', callId: '1796412664.10', direction: 'inbound', caller, extension: '101', disposition: 'answered', talkSeconds: 3, hangupBy: 'caller' },
    ]);
  });

  it('prints the same lines for an .ami file on every run', async () => {
    const first = session();
    const second = session();
    expect(await runCli(['normalize', 'testdata/ami/ringgroup.ami'], first.io)).toBe(0);
    expect(await runCli(['normalize', 'testdata/ami/ringgroup.ami'], second.io)).toBe(0);
    expect(first.lines()).toHaveLength(8);
    expect(second.lines()).toEqual(first.lines());
  });

  it('streams stdin through the framer', async () => {
    const bytes = readFileSync(join(captures, 'queue-abandon.ami'));
    const piped = session(trickle(bytes, 7));
    const file = session();
    expect(await runCli(['normalize', '-'], piped.io)).toBe(0);
    expect(await runCli(['normalize', 'testdata/ami/queue-abandon.ami'], file.io)).toBe(0);
    expect(piped.lines()).toEqual(file.lines());
    expect(piped.lines().at(-1)).toMatchObject({ type: 'call.completed', disposition: 'abandoned', hangupBy: 'caller' });
  });

  it('prints whole events with --full, under the PBX id asked for', async () => {
    const run = session(undefined, { PBX_ID: 'from-env' });
    expect(await runCli(['normalize', 'testdata/ami/internal.jsonl', '--full', '--pbx', 'site-b'], run.io)).toBe(0);
    expect(run.lines()[0]).toMatchObject({ v: 1, id: 'site-b:1796412765.39:ringing:102:1', pbx: 'site-b', type: 'call.ringing', callee: { number: '102', name: 'Ben Ortiz' } });
  });

  it('uses the call model variables of the bridge', async () => {
    const run = session(undefined, { AMI_EXTENSION_PATTERN: '^1[0-9]{2}$' });
    expect(await runCli(['normalize', 'testdata/ami/load.jsonl'], run.io)).toBe(0);
    // Extensions 201..205 are no agents under this pattern, so the queue calls reach no agent.
    expect(run.lines().every((line) => (line as { type: string }).type === 'call.completed')).toBe(true);
  });

  it('names a missing file and an invalid setting', async () => {
    const missing = session();
    expect(await runCli(['normalize', 'testdata/ami/nope.ami'], missing.io)).toBe(EXIT_USAGE);
    expect(missing.err()).toContain('cannot read testdata/ami/nope.ami: no such file');
    const invalid = session(undefined, { AMI_EXTENSION_PATTERN: '([' });
    expect(await runCli(['normalize', 'testdata/ami/internal.jsonl'], invalid.io)).toBe(1);
    expect(invalid.err()).toContain('AMI_EXTENSION_PATTERN is not a valid regular expression');
  });
});

describe('cti frames', () => {
  it('prints every message of a capture as [key, value] pairs in wire order', async () => {
    const run = session();
    expect(await runCli(['frames', 'testdata/ami/protocol-challenge-login.ami'], run.io)).toBe(0);
    expect(run.lines()).toEqual([
      [
        ['Response', 'Success'],
        ['ActionID', 'challenge-0001'],
        ['Challenge', '903560757'],
      ],
      [
        ['Response', 'Success'],
        ['ActionID', 'login-md5-0002'],
        ['Message', 'Authentication accepted'],
      ],
      [
        ['Response', 'Success'],
        ['ActionID', 'ping-0003'],
        ['Ping', 'Pong'],
        ['Timestamp', '1796412922.721989'],
      ],
      [
        ['Response', 'Goodbye'],
        ['ActionID', 'logoff-0004'],
        ['Message', 'Thanks for all the fish.'],
      ],
    ]);
    expect(run.err()).toContain('banner: Asterisk Call Manager/11.0.0');
  });

  it('frames stdin one byte per read', async () => {
    const bytes = readFileSync(join(captures, 'protocol-command-admin.ami'));
    const whole = session();
    expect(await runCli(['frames', 'testdata/ami/protocol-command-admin.ami'], whole.io)).toBe(0);
    const piped = session(trickle(bytes, 1));
    expect(await runCli(['frames', '-'], piped.io)).toBe(0);
    expect(piped.lines()).toEqual(whole.lines());
    const withoutBanner = session(trickle(bytes.subarray(bytes.indexOf('\n') + 1), 13));
    expect(await runCli(['frames', '-'], withoutBanner.io)).toBe(0);
    expect(withoutBanner.lines()).toEqual(whole.lines());
    expect(withoutBanner.err()).not.toContain('banner:');
    // Command output keeps its empty lines.
    expect(whole.lines()[2]).toContainEqual(['Output', '']);
  });

  it('frames recordings and flags Latin-1', async () => {
    const recorded = session();
    expect(await runCli(['frames', 'testdata/ami/protocol-shutdown-admin.jsonl'], recorded.io)).toBe(0);
    expect(recorded.lines().map((pairs) => (pairs as string[][])[0])).toEqual([
      ['Response', 'Success'],
      ['Event', 'FullyBooted'],
      ['Event', 'SuccessfulAuth'],
      ['Event', 'SuccessfulAuth'],
      ['Event', 'Shutdown'],
    ]);
    const latin1 = session(Readable.from([Buffer.concat([Buffer.from('Event: Newchannel\r\nCallerIDName: Jos'), Buffer.from([0xe9]), Buffer.from('\r\n\r\n')])]));
    expect(await runCli(['frames', '-'], latin1.io)).toBe(0);
    expect(latin1.lines()).toEqual([
      [
        ['Event', 'Newchannel'],
        ['CallerIDName', 'José'],
      ],
    ]);
    expect(latin1.err()).toContain('message 1: the value of CallerIDName is not UTF-8 and was decoded as Latin-1');
  });
});

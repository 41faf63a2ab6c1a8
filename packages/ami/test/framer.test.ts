import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { AmiErrorCode, AmiFramer, AmiMessage, readAmiMessages, type AmiError } from '../src/index.js';

interface Framed {
  messages: AmiMessage[];
  banners: string[];
  faults: AmiError[];
}

function frame(chunks: (string | Buffer)[], options: { maxMessageBytes?: number; banner?: boolean } = {}): Framed {
  const result: Framed = { messages: [], banners: [], faults: [] };
  const framer = new AmiFramer({
    onMessage: (message) => result.messages.push(message),
    onBanner: (banner) => result.banners.push(banner),
    onFault: (fault) => result.faults.push(fault),
    ...options,
  });
  for (const chunk of chunks) {
    framer.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk, 0);
  }
  framer.end(0);
  return result;
}

const pairsOf = (framed: Framed) => framed.messages.map((message) => message.pairs());

describe('AmiFramer', () => {
  it('frames the banner, a response and an event from one read', () => {
    const framed = frame([
      'Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: login-0001\r\nMessage: Authentication accepted\r\n\r\n' +
        'Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 635\r\n\r\n',
    ]);
    expect(framed.banners).toEqual(['Asterisk Call Manager/11.0.0']);
    expect(pairsOf(framed)).toEqual([
      [
        ['Response', 'Success'],
        ['ActionID', 'login-0001'],
        ['Message', 'Authentication accepted'],
      ],
      [
        ['Event', 'FullyBooted'],
        ['Privilege', 'system,all'],
        ['Uptime', '635'],
      ],
    ]);
    expect(framed.messages[0]?.response).toBe('Success');
    expect(framed.messages[1]?.event).toBe('FullyBooted');
    expect(framed.faults).toEqual([]);
  });

  it('reads a stream without a banner', () => {
    const framed = frame(['Event: Hangup\r\nCause: 16\r\n\r\n']);
    expect(framed.banners).toEqual([]);
    expect(pairsOf(framed)).toEqual([
      [
        ['Event', 'Hangup'],
        ['Cause', '16'],
      ],
    ]);
  });

  it('tolerates bare LF, \\r\\n\\n, extra blank lines and empty values', () => {
    const framed = frame([
      'Event: A\nAccountCode: \nExten:\n\n',
      'Event: B\r\nContext: from-internal\r\n\n',
      '\r\n\r\n\n',
      'Event: C\r\nAccountCode: \r\n\r\n',
    ]);
    expect(pairsOf(framed)).toEqual([
      [
        ['Event', 'A'],
        ['AccountCode', ''],
        ['Exten', ''],
      ],
      [
        ['Event', 'B'],
        ['Context', 'from-internal'],
      ],
      [
        ['Event', 'C'],
        ['AccountCode', ''],
      ],
    ]);
    expect(framed.faults).toEqual([]);
  });

  it('keeps repeated keys and ChanVariable keys in wire order', () => {
    const framed = frame([
      'Event: Newchannel\r\nChanVariable(CTI_REQUEST): c2d-0001\r\nVariable: A=1\r\nVariable: B=2\r\nChanVariable(FOO): bar\r\n\r\n',
    ]);
    const [message] = framed.messages;
    expect(message?.pairs()).toEqual([
      ['Event', 'Newchannel'],
      ['ChanVariable(CTI_REQUEST)', 'c2d-0001'],
      ['Variable', 'A=1'],
      ['Variable', 'B=2'],
      ['ChanVariable(FOO)', 'bar'],
    ]);
    expect(message?.getAll('Variable')).toEqual(['A=1', 'B=2']);
    expect(message?.get('ChanVariable(FOO)')).toBe('bar');
  });

  it('reads Command output in the Asterisk 14+ form', () => {
    const framed = frame([
      'Response: Success\r\nActionID: cmd-0003\r\nMessage: Command output follows\r\nOutput: \r\nOutput:   Contact:  101/sip:101@127.0.0.1\r\n',
      'Output: Objects found: 9\r\nOutput: \r\n\r\n',
    ]);
    expect(framed.messages[0]?.getAll('Output')).toEqual(['', '  Contact:  101/sip:101@127.0.0.1', 'Objects found: 9', '']);
  });

  it('reads Command output in the old Response: Follows form, blank lines included', () => {
    const framed = frame([
      'Response: Follows\r\nPrivilege: Command\r\nActionID: cmd-1\r\nName/username    Host\n101/101    127.0.0.1\n\nObjects: 1\n--END COMMAND--\r\n\r\n',
      'Response: Follows\r\nActionID: cmd-2\r\nAsterisk 1.8.32 built by root--END COMMAND--\r\n\r\n',
      'Event: Ping\r\n\r\n',
    ]);
    expect(pairsOf(framed)).toEqual([
      [
        ['Response', 'Follows'],
        ['Privilege', 'Command'],
        ['ActionID', 'cmd-1'],
        ['Output', 'Name/username    Host'],
        ['Output', '101/101    127.0.0.1'],
        ['Output', ''],
        ['Output', 'Objects: 1'],
      ],
      [
        ['Response', 'Follows'],
        ['ActionID', 'cmd-2'],
        ['Output', 'Asterisk 1.8.32 built by root'],
      ],
      [['Event', 'Ping']],
    ]);
  });

  it('decodes a UTF-8 character split across two reads', () => {
    const bytes = Buffer.from('Event: Newchannel\r\nCallerIDName: José Ñúñez\r\n\r\n', 'utf8');
    const cut = bytes.indexOf(Buffer.from('é', 'utf8')) + 1;
    const framed = frame([bytes.subarray(0, cut), bytes.subarray(cut)]);
    expect(framed.messages[0]?.get('CallerIDName')).toBe('José Ñúñez');
    expect(framed.messages[0]?.isFallbackDecoded('CallerIDName')).toBe(false);
  });

  it('decodes an invalid UTF-8 value as Latin-1 and flags only that value', () => {
    const bytes = Buffer.concat([
      Buffer.from('Event: Newchannel\r\nCallerIDName: Jos', 'latin1'),
      Buffer.from([0xe9]),
      Buffer.from(' M\u00fcller\r\nConnectedLineName: Zo\u00eb\r\n\r\nEvent: Hangup\r\n\r\n', 'utf8'),
    ]);
    const framed = frame([bytes]);
    const [first, second] = framed.messages;
    expect(first?.get('CallerIDName')).toBe('José MÃ¼ller');
    expect(first?.isFallbackDecoded('CallerIDName')).toBe(true);
    expect(first?.get('ConnectedLineName')).toBe('Zoë');
    expect(first?.isFallbackDecoded('ConnectedLineName')).toBe(false);
    expect(second?.pairs()).toEqual([['Event', 'Hangup']]);
  });

  it('frames a terminator split between its CR and LF', () => {
    const framed = frame(['Event: A\r\nCause: 16\r\n\r', '\nEvent: B\r', '\n\r', '\n']);
    expect(pairsOf(framed)).toEqual([
      [
        ['Event', 'A'],
        ['Cause', '16'],
      ],
      [['Event', 'B']],
    ]);
  });

  it('skips a frame over the limit and keeps the next event', () => {
    const huge = 'x'.repeat(5000);
    const framed = frame(['Event: Big\r\nValue: ', huge.slice(0, 2000), huge.slice(2000), '\r\n\r\nEvent: Hangup\r\nCause: 16\r\n\r\n'], {
      maxMessageBytes: 1024,
    });
    expect(pairsOf(framed)).toEqual([
      [
        ['Event', 'Hangup'],
        ['Cause', '16'],
      ],
    ]);
    expect(framed.faults.map((fault) => fault.code)).toEqual([AmiErrorCode.FRAME_TOO_LARGE]);
  });

  it('keeps a large value under the limit whole', () => {
    const value = 'y'.repeat(200_000);
    const chunks = [`Event: UserEvent\r\nBody: ${value}\r\n\r\n`].flatMap((text) => {
      const bytes = Buffer.from(text);
      return Array.from({ length: Math.ceil(bytes.length / 1000) }, (_, index) => bytes.subarray(index * 1000, (index + 1) * 1000));
    });
    const framed = frame(chunks);
    expect(framed.messages[0]?.get('Body')).toBe(value);
  });

  it('recovers the next event after a frame cut short', () => {
    const framed = frame(['Event: Newchannel\r\nChannel: PJSIP/1\r\nEvent: Hangup\r\nCause: 16\r\n\r\n']);
    expect(framed.messages.map((message) => [message.event, message.truncated])).toEqual([
      ['Newchannel', true],
      ['Hangup', false],
    ]);
    expect(framed.faults.map((fault) => fault.code)).toEqual([AmiErrorCode.FRAME_TRUNCATED]);
  });

  it('keeps OriginateResponse whole although it carries a Response header', () => {
    const framed = frame(['Event: OriginateResponse\r\nActionID: c2d-1\r\nResponse: Success\r\nReason: 4\r\n\r\n']);
    expect(framed.messages).toHaveLength(1);
    expect(framed.messages[0]?.event).toBe('OriginateResponse');
    expect(framed.messages[0]?.response).toBeUndefined();
  });

  it('recovers an event glued to garbage bytes', () => {
    const garbage = Buffer.from([0x01, 0xff, 0x41, 0x0a, 0x7f, 0x00, 0x42]);
    const framed = frame([garbage, 'Event: Hangup\r\nCause: 16\r\n\r\n']);
    const hangup = framed.messages.find((message) => message.event === 'Hangup');
    expect(hangup?.pairs()).toEqual([
      ['Event', 'Hangup'],
      ['Cause', '16'],
    ]);
  });

  it('delivers an unterminated message at the end of the stream as truncated', () => {
    const framed = frame(['Event: Hangup\r\nCause: 16\r\n']);
    expect(framed.messages.map((message) => [message.event, message.truncated])).toEqual([['Hangup', true]]);
  });

  it('reads a stream through readAmiMessages with read times', async () => {
    const stream = Readable.from([Buffer.from('Asterisk Call Manager/11.0.0\r\nEvent: A\r'), Buffer.from('\n\r\nEvent: B\r\n\r\n')]);
    let tick = 0;
    const banners: string[] = [];
    const seen: [string | undefined, number][] = [];
    for await (const message of readAmiMessages(stream, { clock: () => (tick += 10), onBanner: (banner) => banners.push(banner) })) {
      seen.push([message.event, message.receivedAt]);
    }
    expect(banners).toEqual(['Asterisk Call Manager/11.0.0']);
    expect(seen).toEqual([
      ['A', 20],
      ['B', 20],
    ]);
  });
});

describe('AmiMessage read from its body', () => {
  it('answers every lookup as a message built from its fields does', () => {
    const directory = join(import.meta.dirname, '../../../testdata/ami');
    let checked = 0;
    for (const name of readdirSync(directory).filter((file) => file.endsWith('.ami'))) {
      const framed = frame([readFileSync(join(directory, name))]);
      for (const message of framed.messages) {
        const eager = new AmiMessage([...message.fields], message.receivedAt);
        for (const key of [...new Set(message.fields.filter((_, index) => index % 2 === 0)), 'Missing', 'Event', 'ActionID', 'Respons', 'Uniqueid:']) {
          expect(message.get(key), `${name}: ${key}`).toBe(eager.get(key));
        }
        expect([message.event, message.response, message.actionId]).toEqual([eager.event, eager.response, eager.actionId]);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(4000);
  });

  it('reads unusual values like split ones', () => {
    const framed = frame(['Event: X\r\nA:\r\nB: \r\nC:value\r\nD: two  spaces \r\nE:  lead\r\n\r\n']);
    const [message] = framed.messages;
    expect(['A', 'B', 'C', 'D', 'E'].map((key) => message?.get(key))).toEqual(['', '', 'value', 'two  spaces ', ' lead']);
    expect(message?.pairs()).toEqual([
      ['Event', 'X'],
      ['A', ''],
      ['B', ''],
      ['C', 'value'],
      ['D', 'two  spaces '],
      ['E', ' lead'],
    ]);
  });
});

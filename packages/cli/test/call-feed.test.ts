import { PassThrough } from 'node:stream';

import type { Msg, NatsConnection, Subscription, SubscriptionOptions } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';

import { followCalls } from '../src/stack/call-feed.js';
import { terminalSafe } from '../src/stack/terminal.js';

/** Hands one message to the subscription callback, as a NATS connection would. */
function deliverOnce(event: Record<string, unknown>): NatsConnection {
  return {
    subscribe(subject: string, options: SubscriptionOptions) {
      const message = { subject: `${String(event['type'])}.pbx1`, json: () => event } as unknown as Msg;
      options.callback?.(null, message);
      return {} as Subscription;
    },
  } as unknown as NatsConnection;
}

describe('call feed', () => {
  it('escapes control characters from a caller name', () => {
    const output = new PassThrough();
    let text = '';
    output.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const name = '\u001b[2J\u001b]0;pwned\u0007EVIL';
    followCalls(deliverOnce({ type: 'call.ringing', callId: '1.1', extension: '101', direction: 'inbound', caller: { number: '+15550100001', name } }), output);

    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u0007');
    expect(text).toContain('\\x1b[2J\\x1b]0;pwned\\x07EVIL');
    expect(text).toContain('+1*******001');
  });

  it('leaves printable text alone', () => {
    expect(terminalSafe('Zoë Ångström 李')).toBe('Zoë Ångström 李');
    expect(terminalSafe('a\u009bb\u007f')).toBe('a\\x9bb\\x7f');
    expect(terminalSafe('evil\u202eeman')).toBe('evil\\u202eeman');
  });
});

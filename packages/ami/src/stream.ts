import type { AmiError } from './errors.js';
import { AmiFramer } from './framer.js';
import type { AmiMessage } from './message.js';

export interface ReadMessagesOptions {
  /** Time stamped on each message; defaults to the wall clock when the read arrived. */
  clock?: () => number;
  onBanner?: (banner: string) => void;
  onFault?: (error: AmiError) => void;
  maxMessageBytes?: number;
}

/**
 * Reads AMI messages from a byte stream (a file, stdin, a socket) through the same framer the
 * live connection uses, one read at a time, so a pipe is handled exactly like the socket.
 */
export async function* readAmiMessages(
  stream: AsyncIterable<Uint8Array | string>,
  options: ReadMessagesOptions = {},
): AsyncGenerator<AmiMessage, void, undefined> {
  const clock = options.clock ?? Date.now;
  let ready: AmiMessage[] = [];
  const framer = new AmiFramer({
    onMessage: (message) => ready.push(message),
    ...(options.onBanner === undefined ? {} : { onBanner: options.onBanner }),
    ...(options.onFault === undefined ? {} : { onFault: options.onFault }),
    ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
  });
  for await (const chunk of stream) {
    framer.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk, clock());
    if (ready.length > 0) {
      const batch = ready;
      ready = [];
      yield* batch;
    }
  }
  framer.end(clock());
  yield* ready;
}

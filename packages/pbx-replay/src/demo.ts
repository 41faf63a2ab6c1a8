import { join } from 'node:path';

import type { ReplayServerOptions } from './server.js';

/** The recorded calls the demo PBX plays, in this order. */
export const DEMO_CAPTURES = [
  'inbound-answered.jsonl',
  'ringgroup.jsonl',
  'queue.jsonl',
  'internal.jsonl',
  'concurrent-inbound.jsonl',
  'blind-transfer.jsonl',
  'inbound-busy.jsonl',
  'queue-abandon.jsonl',
] as const;

/**
 * Options for the demo PBX: the recorded calls of `directory` (testdata/ami) played in a loop
 * with their recorded timing, and the recorded click-to-dial outcomes for Originate.
 */
export function demoReplayOptions(directory: string): Pick<ReplayServerOptions, 'captures' | 'loop' | 'timing' | 'originate'> {
  return {
    captures: DEMO_CAPTURES.map((name) => join(directory, name)),
    loop: true,
    timing: 'recorded',
    originate: {
      captures: {
        answered: join(directory, 'outbound-click-to-dial.jsonl'),
        rejected: join(directory, 'outbound-click-to-dial-rejected.jsonl'),
        local: join(directory, 'outbound-click-to-dial-local.jsonl'),
      },
    },
  };
}

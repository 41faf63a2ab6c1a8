import type { Command } from './command.js';
import { dlqList, dlqReplay } from './commands/dlq.js';
import { docs } from './commands/docs.js';
import { frames } from './commands/frames.js';
import { normalize } from './commands/normalize.js';

/** Every `cti` command. */
export const Commands: readonly Command[] = [docs, dlqList, dlqReplay, normalize, frames];

import type { Command } from './command.js';
import { dlqList, dlqReplay } from './commands/dlq.js';
import { docs } from './commands/docs.js';
import { lookup } from './commands/lookup.js';

/** Every `cti` command. */
export const Commands: readonly Command[] = [docs, dlqList, dlqReplay, lookup];

import type { Command } from './command.js';
import { apiKeyCreate } from './commands/api-key.js';
import { dlqList, dlqReplay } from './commands/dlq.js';
import { docs } from './commands/docs.js';
import { token } from './commands/token.js';

/** Every `cti` command. */
export const Commands: readonly Command[] = [docs, dlqList, dlqReplay, token, apiKeyCreate];

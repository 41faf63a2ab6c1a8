import type { Command } from './command.js';
import { apiKeyCreate } from './commands/api-key.js';
import { dlqList, dlqReplay } from './commands/dlq.js';
import { audit } from './commands/audit.js';
import { docs } from './commands/docs.js';
import { erase } from './commands/erase.js';
import { frames } from './commands/frames.js';
import { lookup } from './commands/lookup.js';
import { normalize } from './commands/normalize.js';
import { secretsGenerate } from './commands/secrets.js';
import { streamsApply } from './commands/streams.js';
import { token } from './commands/token.js';
import { up } from './commands/up.js';
import { webhookSign } from './commands/webhook.js';

/** Every `cti` command. */
export const Commands: readonly Command[] = [
  up,
  docs,
  streamsApply,
  normalize,
  frames,
  lookup,
  token,
  apiKeyCreate,
  webhookSign,
  dlqList,
  dlqReplay,
  audit,
  erase,
  secretsGenerate,
];

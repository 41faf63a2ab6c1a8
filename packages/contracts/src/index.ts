export * from './contract.js';
export * from './common.js';
export * from './services.js';
export * from './streams.js';
export * from './calls.js';
export * from './crm.js';
export * from './ai.js';
export * from './commands.js';
export * from './audit.js';
export * from './dlq.js';
export * from './access.js';

import { AiContracts } from './ai.js';
import { AuditContracts } from './audit.js';
import { CallContracts } from './calls.js';
import { CommandContracts } from './commands.js';
import type { MessageContract } from './contract.js';
import { CrmContracts } from './crm.js';
import { DeadLetterContracts } from './dlq.js';

/** Every message that crosses NATS. docs/subjects.md is checked against this list. */
export const AllContracts: readonly MessageContract[] = [
  ...CallContracts,
  ...CrmContracts,
  ...AiContracts,
  ...CommandContracts,
  ...AuditContracts,
  ...DeadLetterContracts,
];
export { GENERATED_END, GENERATED_START, renderSubjectsDoc } from './docs.js';

import { SuiteCrmError, SuiteCrmErrorCode, type CrmRecord, type SuiteCrmClient } from '@cti/suitecrm';

export type EnsureOutcome =
  | { outcome: 'created'; record: CrmRecord }
  | { outcome: 'existing'; record: CrmRecord }
  /** The record was created once and deleted in SuiteCRM since; it is not created again. */
  | { outcome: 'deleted' };

// Outcomes after which the create may have been stored: SuiteCRM is asked for the record.
const MAYBE_STORED = new Set<string>([
  SuiteCrmErrorCode.RECORD_EXISTS,
  SuiteCrmErrorCode.DATABASE_FAILURE,
  SuiteCrmErrorCode.NETWORK,
  SuiteCrmErrorCode.TIMEOUT,
  SuiteCrmErrorCode.UNAVAILABLE,
  SuiteCrmErrorCode.RESPONSE_INVALID,
]);

/**
 * Creates a record under an id derived from the message, or finds it when an earlier delivery
 * (of this replica, another replica, or a dead-letter replay) already created it:
 * - SuiteCRM's V8 create stores a client-chosen id and rejects with "already exist" when a record
 *   (live or soft-deleted) has it; two creates that race hit the primary key instead, which
 *   SuiteCRM reports as a database failure;
 * - after any answer that leaves the outcome open, a GET by id tells: found means it exists,
 *   "not found" after "already exist" means someone deleted it, otherwise the error stands and
 *   the message is retried.
 */
export async function ensureRecord(client: SuiteCrmClient, module: string, id: string, attributes: Record<string, unknown>): Promise<EnsureOutcome> {
  try {
    return { outcome: 'created', record: await client.create(module, attributes, { id }) };
  } catch (error) {
    if (!(error instanceof SuiteCrmError) || !MAYBE_STORED.has(error.code) || !error.requestSent) {
      throw error;
    }
    try {
      return { outcome: 'existing', record: await client.get(module, id) };
    } catch (lookupError) {
      if (lookupError instanceof SuiteCrmError && lookupError.code === SuiteCrmErrorCode.RECORD_NOT_FOUND && error.code === SuiteCrmErrorCode.RECORD_EXISTS) {
        return { outcome: 'deleted' };
      }
      // Not stored, or SuiteCRM is unreachable: the first error decides how the message is retried.
      throw error;
    }
  }
}

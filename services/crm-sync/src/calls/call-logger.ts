import type { Bus } from '@cti/bus';
import { CallLogged, CallMissed, type CallCompleted } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import type { RankedMatch, SuiteCrmClient } from '@cti/suitecrm';

import { CrmSyncError, CrmSyncErrorCode } from '../errors.js';
import { RecordIds } from '../ids.js';
import type { CallerLookup } from '../lookup/caller-lookup.js';
import type { CrmSyncMetrics } from '../metrics.js';
import type { CallLog } from './call-log.js';
import { callAttributes, displayNumber, MISSED, NOT_HELD } from './call-record.js';
import { ensureRecord } from './ensure-record.js';
import type { ExtensionUsers } from './extension-users.js';

// Records linked to one call at most per module: a number shared by more people than this is a
// switchboard, and linking all of them helps nobody.
const MAX_LINKED_PER_MODULE = 5;

export interface CallLoggerOptions {
  bus: Bus;
  client: SuiteCrmClient;
  lookup: CallerLookup;
  users: ExtensionUsers;
  callLog: CallLog;
  logger: Logger;
  metrics?: CrmSyncMetrics | undefined;
  logInternalCalls: boolean;
  clock: () => number;
}

/**
 * Logs each completed PBX call as one Calls record, exactly once. The record id is derived
 * from the PBX and Linkedid, so every step can run again after a redelivery, a crash, a replay
 * or on another replica: the create finds the existing record, links are idempotent in SuiteCRM,
 * and the messages published afterwards carry deterministic ids that JetStream stores once.
 */
export class CallLogger {
  readonly #options: CallLoggerOptions;

  constructor(options: CallLoggerOptions) {
    this.#options = options;
  }

  async log(event: CallCompleted, logger: Logger): Promise<void> {
    const { client, metrics } = this.#options;
    const status = NOT_HELD.has(event.disposition) ? 'Not Held' : 'Held';
    if (event.direction === 'internal' && !this.#options.logInternalCalls) {
      metrics?.callsLogged.inc({ status, outcome: 'skipped' });
      logger.debug('internal call not logged');
      return;
    }

    const rawExternal = event.direction === 'outbound' ? event.callee.number : event.caller.number;
    const matches = await this.#matches(rawExternal);
    const best = matches[0];
    const external = displayNumber(rawExternal, this.#options.lookup.normalize(rawExternal));
    const assignedUserId = await this.#assignedUser(event);
    const recordId = RecordIds.pbxCall(event.pbx, event.callId);

    const result = await ensureRecord(client, 'Calls', recordId, callAttributes({ event, external, best, assignedUserId }));
    if (result.outcome === 'deleted') {
      metrics?.callsLogged.inc({ status, outcome: 'deleted' });
      logger.warn({ recordId }, 'call record was deleted in SuiteCRM since it was logged, not logging it again');
      return;
    }

    await this.#link(recordId, matches, await this.#invitees(event));
    const normalized = this.#options.lookup.normalize(rawExternal);
    await this.#options.callLog.record({
      pbx: event.pbx,
      callId: event.callId,
      recordId,
      direction: event.direction,
      ...(normalized === undefined ? {} : { externalDigits: normalized.digits }),
      ...(event.extension === undefined ? {} : { extension: event.extension }),
      startedAt: event.startedAt,
      endedAt: event.endedAt,
      ...(best === undefined ? {} : { parent: { module: best.record.module, id: best.record.id } }),
    });

    await this.#options.bus.publish(CallLogged, {
      v: 1,
      id: `crm.call.logged:${event.pbx}:${event.callId}`,
      type: 'crm.call.logged',
      callId: event.callId,
      pbx: event.pbx,
      recordId,
      status,
      ...(best === undefined ? {} : { parent: { module: best.record.module, id: best.record.id } }),
      ...(assignedUserId === undefined ? {} : { assignedUserId }),
      occurredAt: new Date(this.#options.clock()).toISOString(),
    });
    if (MISSED.has(event.disposition)) {
      await this.#notifyMissed(event, recordId);
    }
    metrics?.callsLogged.inc({ status, outcome: result.outcome });
    logger.info({ recordId, status, outcome: result.outcome, matches: matches.length }, 'call logged in SuiteCRM');
  }

  async #matches(rawExternal: string): Promise<RankedMatch[]> {
    const result = await this.#options.lookup.lookup(rawExternal);
    if (result.status === 'unavailable') {
      // A call logged without its caller could not be linked later: wait until SuiteCRM responds.
      throw new CrmSyncError(CrmSyncErrorCode.LOOKUP_UNAVAILABLE, `caller lookup failed (${result.error.code}): ${result.error.message}`);
    }
    return result.status === 'ok' ? result.matches : [];
  }

  /** The agent who talked last, else the first agent rung who has a user. */
  async #assignedUser(event: CallCompleted): Promise<string | undefined> {
    const candidates = [...(event.extension === undefined ? [] : [event.extension]), ...event.agents.map((leg) => leg.extension)];
    for (const extension of candidates) {
      const userId = await this.#options.users.userFor(extension);
      if (userId !== undefined) {
        return userId;
      }
    }
    return undefined;
  }

  /** Users who talked on the call; for a call nobody took, every agent who was rung. */
  async #invitees(event: CallCompleted): Promise<string[]> {
    const talked = event.agents.filter((leg) => leg.talkSeconds > 0 || leg.disposition === 'answered').map((leg) => leg.extension);
    const extensions = talked.length > 0 ? talked : event.agents.map((leg) => leg.extension);
    if (event.extension !== undefined && !extensions.includes(event.extension)) {
      extensions.unshift(event.extension);
    }
    const users = new Set<string>();
    for (const extension of extensions) {
      const userId = await this.#options.users.userFor(extension);
      if (userId !== undefined) {
        users.add(userId);
      }
    }
    return [...users];
  }

  /**
   * Links through the named links of Calls. `parent_id` alone does not put the contact in the
   * call's contacts, and the generic route would take Users as modified_user_link and overwrite
   * the parent with an Account, so each link is named. Accounts need no link: an account is the
   * call's parent when it is the best match.
   */
  async #link(recordId: string, matches: readonly RankedMatch[], userIds: readonly string[]): Promise<void> {
    const { client } = this.#options;
    const contacts = matches.filter((match) => match.record.module === 'Contacts').slice(0, MAX_LINKED_PER_MODULE);
    const leads = matches.filter((match) => match.record.module === 'Leads').slice(0, MAX_LINKED_PER_MODULE);
    for (const match of contacts) {
      await client.relate('Calls', recordId, 'contacts', { module: 'Contacts', id: match.record.id });
    }
    for (const match of leads) {
      await client.relate('Calls', recordId, 'leads', { module: 'Leads', id: match.record.id });
    }
    for (const userId of userIds) {
      await client.relate('Calls', recordId, 'users', { module: 'Users', id: userId });
    }
  }

  async #notifyMissed(event: CallCompleted, recordId: string): Promise<void> {
    const occurredAt = new Date(this.#options.clock()).toISOString();
    for (const leg of event.agents) {
      await this.#options.bus.publish(CallMissed, {
        v: 1,
        id: `call.missed:${event.pbx}:${event.callId}:${leg.extension}`,
        type: 'call.missed',
        callId: event.callId,
        pbx: event.pbx,
        direction: event.direction,
        caller: event.caller,
        callee: event.callee,
        occurredAt,
        ...(event.did === undefined ? {} : { did: event.did }),
        ...(event.queue === undefined ? {} : { queue: event.queue }),
        extension: leg.extension,
        disposition: event.disposition,
        crmRecordId: recordId,
      });
    }
  }
}

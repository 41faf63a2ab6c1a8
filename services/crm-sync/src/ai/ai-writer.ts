import type { Bus } from '@cti/bus';
import { CallSummary, type AiCallFailed, type AiConversationCompleted, type CrmModule } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import {
  attribute,
  cleanTextForSuiteCrm,
  DESCRIPTION_MAX_BYTES,
  SuiteCrmError,
  SuiteCrmErrorCode,
  toSuiteCrmDateTime,
  truncateChars,
  utf8Length,
  type FieldDefinition,
  type RankedMatch,
  type SuiteCrmClient,
} from '@cti/suitecrm';

import type { CallLog, CallLogEntry } from '../calls/call-log.js';
import { CALL_NAME_MAX_CHARS, displayNumber, durationFields } from '../calls/call-record.js';
import { ensureRecord } from '../calls/ensure-record.js';
import { CrmSyncError, CrmSyncErrorCode } from '../errors.js';
import { RecordIds } from '../ids.js';
import type { CallerLookup } from '../lookup/caller-lookup.js';
import type { CrmSyncMetrics } from '../metrics.js';
import { correlate } from './correlate.js';
import { aiSection, sectionMarker } from './transcript.js';

// Room left in `description` for what agents add by hand after the AI section.
const DESCRIPTION_BUDGET_BYTES = DESCRIPTION_MAX_BYTES - 4096;
const FIELD_CACHE_MS = 10 * 60_000;
const SUMMARY_MAX_CHARS = 16_384;

export interface AiWriterOptions {
  bus: Bus;
  client: SuiteCrmClient;
  callLog: CallLog;
  lookup: CallerLookup;
  logger: Logger;
  metrics?: CrmSyncMetrics | undefined;
  clock: () => number;
  callIdVariables: readonly string[];
  matchWindowMs: number;
  graceMs: number;
  noteMaxBytes: number;
  customFields: { summary: string; verdict: string; conversation: string };
  assignedUserId: string | undefined;
}

/**
 * Writes what the AI heard into SuiteCRM: the summary, the verdict and a readable transcript go
 * into the Calls record of the PBX call the conversation belongs to, or into a Calls record of
 * its own when there is none. Every write can run again: the section carries a marker that is
 * looked for before appending, and records get ids derived from the conversation id.
 */
export class AiWriter {
  readonly #options: AiWriterOptions;
  #fields: { definitions: Record<string, FieldDefinition>; at: number } | undefined;

  constructor(options: AiWriterOptions) {
    this.#options = options;
  }

  async conversationCompleted(event: AiConversationCompleted, logger: Logger): Promise<void> {
    const correlation = await correlate(
      event,
      {
        callLog: this.#options.callLog,
        lookup: this.#options.lookup,
        callIdVariables: this.#options.callIdVariables,
        windowMs: this.#options.matchWindowMs,
        graceMs: this.#options.graceMs,
      },
      this.#options.clock(),
    );
    if (correlation.kind === 'pending') {
      throw new CrmSyncError(CrmSyncErrorCode.AI_CALL_NOT_LOGGED_YET, 'the PBX call of this AI conversation is not logged yet, trying again later');
    }

    let recordId: string;
    let parent: { module: CrmModule; id: string } | undefined;
    if (correlation.kind === 'call') {
      recordId = correlation.entry.recordId;
      parent = correlation.entry.parent;
    } else {
      const own = await this.#ownRecord(event);
      if (own === undefined) {
        logger.warn('the Calls record of this AI conversation was deleted in SuiteCRM, not writing it again');
        return;
      }
      ({ recordId, parent } = own);
    }

    await this.#attach(recordId, event, parent);
    if (parent !== undefined && event.summary !== undefined && event.summary.trim() !== '') {
      await this.#options.callLog.saveSummary(parent.module, parent.id, {
        summary: event.summary.trim().slice(0, 4096),
        at: event.eventAt,
        conversationId: event.conversationId,
      });
    }
    if (correlation.kind === 'call') {
      await this.#publishSummary(event, correlation.entry, recordId);
    }
    const correlationLabel = correlation.kind === 'call' ? correlation.by : 'none';
    const outcome = correlation.kind === 'call' ? 'attached' : 'own_record';
    this.#options.metrics?.aiConversations.inc({ correlation: correlationLabel, outcome });
    logger.info({ recordId, correlation: correlationLabel, outcome }, 'AI conversation written to SuiteCRM');
  }

  /** `call_initiation_failure`: an outbound AI call that never connected, as a Not Held call. */
  async callFailed(event: AiCallFailed, logger: Logger): Promise<void> {
    const rawNumber = event.toNumber ?? '';
    const { best, matches, who } = await this.#whoIs(rawNumber);
    const recordId = RecordIds.aiFailure(event.conversationId);
    const lines = [
      `Outbound AI call that could not be set up: ${event.failureReason}.`,
      `Called number: ${who.number}`,
      ...(event.sipStatusCode === undefined ? [] : [`SIP status: ${event.sipStatusCode}`]),
      ...(event.providerType === undefined ? [] : [`Provider: ${event.providerType}`]),
      `ElevenLabs conversation: ${event.conversationId}`,
    ];
    const result = await ensureRecord(this.#options.client, 'Calls', recordId, {
      name: cleanTextForSuiteCrm(truncateChars(`Failed AI call to ${who.name}`, CALL_NAME_MAX_CHARS)),
      direction: 'Outbound',
      status: 'Not Held',
      date_start: toSuiteCrmDateTime(event.eventAt),
      duration_hours: 0,
      duration_minutes: 0,
      description: cleanTextForSuiteCrm(lines.join('\n')),
      ...(best === undefined ? {} : { parent_type: best.record.module, parent_id: best.record.id }),
      ...(this.#options.assignedUserId === undefined ? {} : { assigned_user_id: this.#options.assignedUserId }),
    });
    if (result.outcome !== 'deleted') {
      await this.#linkMatches(recordId, matches);
    }
    logger.info({ recordId, outcome: result.outcome }, 'failed AI call logged in SuiteCRM');
  }

  async #whoIs(rawNumber: string): Promise<{ best: RankedMatch | undefined; matches: RankedMatch[]; who: { number: string; name: string } }> {
    const result = rawNumber === '' ? { status: 'invalid_number' as const } : await this.#options.lookup.lookup(rawNumber);
    if (result.status === 'unavailable') {
      throw new CrmSyncError(CrmSyncErrorCode.LOOKUP_UNAVAILABLE, `caller lookup failed (${result.error.code})`);
    }
    const matches = result.status === 'ok' ? result.matches : [];
    const number = displayNumber(rawNumber, this.#options.lookup.normalize(rawNumber));
    return { best: matches[0], matches, who: { number, name: matches[0]?.record.name ?? number } };
  }

  /** The Calls record of an AI conversation that no PBX call matched. */
  async #ownRecord(event: AiConversationCompleted): Promise<{ recordId: string; parent: { module: CrmModule; id: string } | undefined } | undefined> {
    const { best, matches, who } = await this.#whoIs(event.externalNumber ?? '');
    const recordId = RecordIds.aiConversation(event.conversationId);
    const outbound = event.direction === 'outbound';
    const header = cleanTextForSuiteCrm(
      [`${outbound ? 'Outbound' : 'Inbound'} call handled by the AI agent ${event.agentId}, with no PBX call to attach it to.`, `${outbound ? 'Called number' : 'Caller'}: ${who.number}`].join('\n'),
    );
    const section = aiSection(event, { existingBytes: utf8Length(header), budgetBytes: DESCRIPTION_BUDGET_BYTES, noteMaxBytes: this.#options.noteMaxBytes });
    const startedAt = event.startedAt ?? new Date(Date.parse(event.eventAt) - (event.durationSeconds ?? 0) * 1000).toISOString();
    const attributes = {
      name: cleanTextForSuiteCrm(truncateChars(`AI call ${outbound ? 'to' : 'from'} ${who.name}`, CALL_NAME_MAX_CHARS)),
      direction: outbound ? 'Outbound' : 'Inbound',
      status: 'Held',
      date_start: toSuiteCrmDateTime(startedAt),
      ...durationFields(event.durationSeconds ?? 0),
      description: `${header}\n\n${section.text}`,
      ...(best === undefined ? {} : { parent_type: best.record.module, parent_id: best.record.id }),
      ...(this.#options.assignedUserId === undefined ? {} : { assigned_user_id: this.#options.assignedUserId }),
    };
    const result = await this.#withoutUnknownFields((fields) => ensureRecord(this.#options.client, 'Calls', recordId, { ...attributes, ...fields }), await this.#customFieldValues(event));
    if (result.outcome === 'deleted') {
      return undefined;
    }
    await this.#linkMatches(recordId, matches);
    return { recordId, parent: best === undefined ? undefined : { module: best.record.module, id: best.record.id } };
  }

  /** Appends the AI section to a call's description (once) and stores a long transcript as Notes. */
  async #attach(recordId: string, event: AiConversationCompleted, parent: { module: CrmModule; id: string } | undefined): Promise<void> {
    const { client } = this.#options;
    const record = await client.get('Calls', recordId, ['description']);
    const description = attribute(record, 'description');
    const marker = sectionMarker(event.conversationId);
    const markerAt = description.indexOf(marker);
    const before = markerAt === -1 ? description : description.slice(0, markerAt).trimEnd();
    const section = aiSection(event, { existingBytes: utf8Length(before), budgetBytes: DESCRIPTION_BUDGET_BYTES, noteMaxBytes: this.#options.noteMaxBytes });

    if (markerAt === -1) {
      const text = before === '' ? section.text : `${before}\n\n${section.text}`;
      await this.#withoutUnknownFields((fields) => client.update('Calls', recordId, { description: text, ...fields }), await this.#customFieldValues(event));
    }
    for (const [index, part] of section.noteParts.entries()) {
      await ensureRecord(client, 'Notes', RecordIds.transcriptNote(event.conversationId, index + 1), {
        name: cleanTextForSuiteCrm(truncateChars(`AI transcript ${index + 1}/${section.noteParts.length}: ${event.title ?? event.conversationId}`, 255)),
        description: part,
        parent_type: 'Calls',
        parent_id: recordId,
        ...(parent?.module === 'Contacts' ? { contact_id: parent.id } : {}),
      });
    }
  }

  async #linkMatches(recordId: string, matches: readonly RankedMatch[]): Promise<void> {
    for (const match of matches.slice(0, 5)) {
      if (match.record.module === 'Contacts' || match.record.module === 'Leads') {
        await this.#options.client.relate('Calls', recordId, match.record.module.toLowerCase(), { module: match.record.module, id: match.record.id });
      }
    }
  }

  async #publishSummary(event: AiConversationCompleted, entry: CallLogEntry, recordId: string): Promise<void> {
    if (entry.extension === undefined) {
      return;
    }
    await this.#options.bus.publish(CallSummary, {
      v: 1,
      id: `crm.call.summary:${event.conversationId}`,
      type: 'crm.call.summary',
      callId: entry.callId,
      pbx: entry.pbx,
      extension: entry.extension,
      conversationId: event.conversationId,
      ...(event.title === undefined ? {} : { title: event.title.slice(0, 256) }),
      summary: (event.summary ?? '').slice(0, SUMMARY_MAX_CHARS),
      successful: event.successful,
      recordId,
      occurredAt: new Date(this.#options.clock()).toISOString(),
    });
  }

  /** Values for the custom fields SuiteCRM has (per its field metadata); none when it has none. */
  async #customFieldValues(event: AiConversationCompleted): Promise<Record<string, string>> {
    const definitions = await this.#fieldDefinitions();
    const { summary, verdict, conversation } = this.#options.customFields;
    const values: Record<string, string> = {};
    if (definitions[summary] !== undefined && event.summary !== undefined) {
      values[summary] = cleanTextForSuiteCrm(event.summary);
    }
    if (definitions[verdict] !== undefined) {
      values[verdict] = event.successful;
    }
    if (definitions[conversation] !== undefined) {
      values[conversation] = event.conversationId;
    }
    return values;
  }

  async #fieldDefinitions(): Promise<Record<string, FieldDefinition>> {
    const now = this.#options.clock();
    if (this.#fields === undefined || now - this.#fields.at > FIELD_CACHE_MS) {
      this.#fields = { definitions: await this.#options.client.fieldDefinitions('Calls'), at: now };
    }
    return this.#fields.definitions;
  }

  /**
   * Runs a write with the custom fields. When SuiteCRM rejects one of them (removed since the
   * metadata was read), it reads the metadata again and writes without them, so a missing custom
   * field never fails the message.
   */
  async #withoutUnknownFields<T>(write: (fields: Record<string, string>) => Promise<T>, fields: Record<string, string>): Promise<T> {
    try {
      return await write(fields);
    } catch (error) {
      if (!(error instanceof SuiteCrmError && error.code === SuiteCrmErrorCode.FIELD_UNKNOWN) || Object.keys(fields).length === 0) {
        throw error;
      }
      this.#fields = undefined;
      this.#options.logger.warn({ fields: Object.keys(fields) }, 'SuiteCRM rejected a custom field its metadata listed, writing without custom fields');
      return write({});
    }
  }
}

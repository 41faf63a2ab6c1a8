import { DeadLetter, Buckets, type StreamName } from '@cti/contracts';
import { keyToken } from '@cti/crm-sync';
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';

import type { NumberMatcher } from './number-matcher.js';
import { isStreamNotFound, scanStream, type ScannedMessage } from './scan.js';

/** Result of an erasure in one stream: the messages it removed, or in a dry run would remove. */
export interface StreamReport {
  stream: StreamName;
  scanned: number;
  /** Messages that hold the number. */
  withNumber: number;
  /** Messages about the same calls or AI conversations, without the number itself. */
  linked: number;
  removed: number;
}

export interface BucketReport {
  bucket: string;
  removed: number;
  /** Keys removed, for the phone index `<module>/<id>` of each CRM record. */
  keys: string[];
}

export interface ErasureReport {
  streams: StreamReport[];
  buckets: BucketReport[];
  objects: { bucket: string; removed: number; names: string[] };
  /** PBX calls (`<pbx>/<Linkedid>`) and AI conversations the number took part in. */
  calls: string[];
  conversations: string[];
}

export interface ErasureOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  matcher: NumberMatcher;
  /** Find and report only; delete nothing. */
  dryRun: boolean;
}

/**
 * Streams with messages about calls and conversations. AUDIT is searched for the number too, but
 * never pruned by call: its events carry a keyed hash, not the number, and are the record of who
 * saw the caller's data.
 */
const LINKED_STREAMS: readonly StreamName[] = ['CALLS', 'CRM', 'AI', 'DLQ'];

const decoder = new TextDecoder();

// The fields that tie a message to a call or a conversation, as JSON writes them.
const ID_FIELDS = /"(?:callId|pbxLinkedid|conversationId)":"([^"\\]{1,128})"/g;

/** Ids a message carries that tie it to a call or an AI conversation. */
interface Links {
  call?: string;
  linkedid?: string;
  conversation?: string;
  object?: string;
}

/** Returns the text of a stored message; for a dead letter, the text of the original it contains. */
function bodyOf(stream: StreamName, data: Uint8Array): string {
  const text = decoder.decode(data);
  if (stream !== 'DLQ') {
    return text;
  }
  try {
    const letter = DeadLetter.parse(JSON.parse(text));
    return decoder.decode(Buffer.from(letter.data, 'base64'));
  } catch {
    return text;
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function linksOf(value: unknown): Links {
  if (typeof value !== 'object' || value === null) {
    return {};
  }
  const record = value as Record<string, unknown>;
  const text = (key: string) => (typeof record[key] === 'string' && record[key] !== '' ? record[key] : undefined);
  const links: Links = {};
  const pbx = text('pbx');
  const callId = text('callId');
  if (pbx !== undefined && callId !== undefined) {
    links.call = `${pbx}/${callId}`;
  }
  const linkedid = text('pbxLinkedid');
  if (linkedid !== undefined) {
    links.linkedid = linkedid;
  }
  const conversation = text('conversationId');
  if (conversation !== undefined) {
    links.conversation = conversation;
  }
  const object = record['object'];
  if (record['type'] === 'ai.conversation.audio' && typeof object === 'object' && object !== null) {
    const name = (object as Record<string, unknown>)['name'];
    if (typeof name === 'string') {
      links.object = name;
    }
  }
  return links;
}

/** Calls, Linkedids and conversations found so far; grows as the passes find linked messages. */
class LinkSet {
  readonly calls = new Set<string>();
  readonly linkedids = new Set<string>();
  readonly conversations = new Set<string>();
  readonly objects = new Set<string>();

  get size(): number {
    return this.calls.size + this.linkedids.size + this.conversations.size + this.objects.size;
  }

  add(links: Links): void {
    if (links.call !== undefined) {
      this.calls.add(links.call);
      this.linkedids.add(links.call.slice(links.call.indexOf('/') + 1));
    }
    if (links.linkedid !== undefined) {
      this.linkedids.add(links.linkedid);
    }
    if (links.conversation !== undefined) {
      this.conversations.add(links.conversation);
    }
    if (links.object !== undefined) {
      this.objects.add(links.object);
    }
  }

  /** True when the message belongs to a call or conversation of the number. */
  covers(links: Links): boolean {
    return (
      (links.call !== undefined && this.calls.has(links.call)) ||
      (links.linkedid !== undefined && this.linkedids.has(links.linkedid)) ||
      (links.conversation !== undefined && this.conversations.has(links.conversation))
    );
  }

  /**
   * Cheap test on the raw JSON: false means the message names no call or conversation of this
   * set. It reads the id fields with a pattern instead of parsing, so a caller with thousands of
   * calls costs a set lookup per message, not a search per call.
   */
  mayCover(text: string): boolean {
    for (const match of text.matchAll(ID_FIELDS)) {
      const id = match[1] ?? '';
      if (this.linkedids.has(id) || this.conversations.has(id)) {
        return true;
      }
    }
    return false;
  }
}

function isAlreadyDeleted(error: unknown): boolean {
  // nats-server 2.9 returns 10043 (sequence not found); newer servers return 10037 (no message found).
  return error instanceof JetStreamApiError && (error.code === JetStreamApiCodes.NoMessageFound || error.code === 10_043);
}

/**
 * Erases one phone number from JetStream: every stream message that holds it, every message about
 * the same PBX calls and AI conversations, the phone index records and call log entries with it,
 * and the audio of its AI conversations. The first pass finds the messages with the number and
 * the calls and conversations they name; further passes find what else belongs to those, until
 * nothing new turns up. Deletes overwrite the message on disk (JetStream's secure erase).
 */
export async function eraseNumber(options: ErasureOptions): Promise<ErasureReport> {
  const { js, jsm, matcher } = options;
  const links = new LinkSet();
  const reports = new Map<StreamName, StreamReport & { seqs: Set<number> }>();

  // Pass 1: messages that hold the number, in every stream.
  for (const stream of [...LINKED_STREAMS, 'AUDIT'] as const) {
    const report = { stream, scanned: 0, withNumber: 0, linked: 0, removed: 0, seqs: new Set<number>() };
    reports.set(stream, report);
    report.scanned = await scanStream(js, jsm, stream, (message: ScannedMessage) => {
      const body = bodyOf(stream, message.data);
      if (!matcher.mayContain(body)) {
        return;
      }
      const value = parse(body);
      if (!matcher.matchesValue(value)) {
        return;
      }
      report.withNumber += 1;
      report.seqs.add(message.seq);
      if (stream !== 'AUDIT') {
        links.add(linksOf(value));
      }
    });
  }

  // Further passes: messages of the same calls and conversations. Each may name another call
  // or conversation (an AI transcript names its PBX call), so repeat until the set stops growing.
  for (let round = 0; round < 4 && links.size > 0; round += 1) {
    const before = links.size;
    for (const stream of LINKED_STREAMS) {
      const report = reports.get(stream);
      if (report === undefined) {
        continue;
      }
      await scanStream(js, jsm, stream, (message) => {
        if (report.seqs.has(message.seq)) {
          return;
        }
        const body = bodyOf(stream, message.data);
        if (!links.mayCover(body)) {
          return;
        }
        const found = linksOf(parse(body));
        if (links.covers(found)) {
          report.linked += 1;
          report.seqs.add(message.seq);
          links.add(found);
        }
      });
    }
    if (links.size === before) {
      break;
    }
  }

  for (const report of reports.values()) {
    if (!options.dryRun) {
      for (const seq of [...report.seqs].sort((a, b) => a - b)) {
        await jsm.streams.deleteMessage(report.stream, seq, true).catch((error: unknown) => {
          if (!isAlreadyDeleted(error)) {
            throw error;
          }
        });
      }
    }
    report.removed = report.seqs.size;
  }

  const buckets = await eraseFromBuckets(options, links);
  const objects = await eraseObjects(options, links);
  return {
    streams: [...reports.values()].map(({ seqs: _seqs, ...report }) => report),
    buckets,
    objects,
    calls: [...links.calls].sort(),
    conversations: [...links.conversations].sort(),
  };
}

interface KvEntryText {
  key: string;
  text: string;
}

/** Reads the live entries of a KV bucket from its stream, skipping deleted and purged keys. */
async function kvEntries(options: ErasureOptions, bucket: string): Promise<KvEntryText[]> {
  const prefix = `$KV.${bucket}.`;
  const entries: KvEntryText[] = [];
  await scanStream(options.js, options.jsm, `KV_${bucket}`, (message) => {
    const operation = message.headers?.get('KV-Operation');
    if (operation === 'DEL' || operation === 'PURGE' || !message.subject.startsWith(prefix)) {
      return;
    }
    entries.push({ key: message.subject.slice(prefix.length), text: decoder.decode(message.data) });
  });
  return entries;
}

/**
 * Removes keys from a KV bucket. A key that running services watch (the phone index, the AI
 * summaries) is purged through the KV API, so their in-memory mirrors drop it too. Such a purge
 * leaves a marker under the key's name. Keys nobody watches are removed with every message under
 * their subject and no marker, because some of them name the number (`n.<digits>.…` in the call
 * log).
 */
async function purgeKeys(options: ErasureOptions, bucket: string, keys: readonly string[], watched: (key: string) => boolean): Promise<void> {
  if (options.dryRun || keys.length === 0) {
    return;
  }
  const kv = await new Kvm(options.js).open(bucket);
  for (const key of keys) {
    if (watched(key)) {
      await kv.purge(key);
    } else {
      await options.jsm.streams.purge(`KV_${bucket}`, { filter: `$KV.${bucket}.${key}` });
    }
  }
}

async function eraseFromBuckets(options: ErasureOptions, links: LinkSet): Promise<BucketReport[]> {
  const { matcher } = options;
  const reports: BucketReport[] = [];

  // Phone index: the CRM records that hold the number. The next sync brings back whatever
  // SuiteCRM still holds, which is why the CRM is erased first (docs/compliance.md).
  const indexBucket = Buckets.CRM_PHONE_INDEX.name;
  const erasedRecords = new Set<string>();
  const indexKeys: string[] = [];
  const indexReport: BucketReport = { bucket: indexBucket, removed: 0, keys: [] };
  for (const entry of await kvEntries(options, indexBucket)) {
    if (!entry.key.startsWith('r.') || !matcher.mayContain(entry.text) || !matcher.matchesValue(parse(entry.text))) {
      continue;
    }
    indexKeys.push(entry.key);
    const record = parse(entry.text) as { module?: string; id?: string };
    if (record.module !== undefined && record.id !== undefined) {
      erasedRecords.add(`${record.module}.${keyToken(record.id)}`);
      indexReport.keys.push(`${record.module}/${record.id}`);
    }
  }
  await purgeKeys(options, indexBucket, indexKeys, () => true);
  indexReport.removed = indexKeys.length;
  reports.push(indexReport);

  // Call log: the entries of the number's calls (by call, Linkedid and number), and the last AI
  // summary of its CRM records.
  const callLogBucket = Buckets.CRM_CALL_LOG.name;
  const callLogKeys: string[] = [];
  const summaries: { key: string; conversationId: string | undefined; text: string }[] = [];
  for (const entry of await kvEntries(options, callLogBucket)) {
    if (entry.key.startsWith('s.')) {
      const summary = parse(entry.text) as { conversationId?: string };
      summaries.push({ key: entry.key, conversationId: summary.conversationId, text: entry.text });
      continue;
    }
    const value = parse(entry.text) as { pbx?: string; callId?: string; parent?: { module: string; id: string } };
    const call = value.pbx !== undefined && value.callId !== undefined ? `${value.pbx}/${value.callId}` : undefined;
    const erase =
      entry.key.startsWith(`n.${matcher.target.digits}.`) ||
      (call !== undefined && links.calls.has(call)) ||
      (matcher.mayContain(entry.text) && matcher.matchesValue(value));
    if (erase) {
      callLogKeys.push(entry.key);
      if (value.parent !== undefined) {
        erasedRecords.add(`${value.parent.module}.${keyToken(value.parent.id)}`);
      }
    }
  }
  for (const summary of summaries) {
    const record = summary.key.slice(2);
    const erase =
      (summary.conversationId !== undefined && links.conversations.has(summary.conversationId)) ||
      // Summaries written before they named their conversation: erased with their record.
      (summary.conversationId === undefined && erasedRecords.has(record)) ||
      matcher.matchesText(summary.text);
    if (erase) {
      callLogKeys.push(summary.key);
    }
  }
  // crm-sync watches only the summaries (`s.`) of the call log.
  await purgeKeys(options, callLogBucket, callLogKeys, (key) => key.startsWith('s.'));
  reports.push({ bucket: callLogBucket, removed: callLogKeys.length, keys: [] });

  // Click-to-dial ids: their stored replies normally hold no number; checked all the same.
  const originateBucket = Buckets.PBX_ORIGINATE_REQUESTS.name;
  const originateKeys = (await kvEntries(options, originateBucket))
    .filter((entry) => matcher.mayContain(entry.text) && matcher.matchesValue(parse(entry.text)))
    .map((entry) => entry.key);
  await purgeKeys(options, originateBucket, originateKeys, () => false);
  reports.push({ bucket: originateBucket, removed: originateKeys.length, keys: [] });
  return reports;
}

async function eraseObjects(options: ErasureOptions, links: LinkSet): Promise<ErasureReport['objects']> {
  const bucket = Buckets.AI_AUDIO.name;
  const names: string[] = [];
  let store;
  try {
    store = await new Objm(options.js).open(bucket);
  } catch (error) {
    if (isStreamNotFound(error) || (error instanceof Error && /not found/i.test(error.message))) {
      return { bucket, removed: 0, names };
    }
    throw error;
  }
  for (const info of await store.list()) {
    const conversation = info.metadata?.['conversationId'] ?? info.name.split('/')[0] ?? '';
    if (links.objects.has(info.name) || links.conversations.has(conversation)) {
      names.push(info.name);
    }
  }
  if (!options.dryRun) {
    for (const name of names) {
      await store.delete(name);
    }
  }
  return { bucket, removed: names.length, names };
}

import { createHash } from 'node:crypto';

// Namespace of every record id crm-sync derives; changing it would make redeliveries of calls
// logged before the change create second records.
const NAMESPACE = Buffer.from('6c3b9f0e4a1d4e2b8f5a7c9d0e1f2a3b', 'hex');

/** RFC 4122 version 5 UUID (SHA-1 of namespace and name). */
export function uuidV5(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Record ids crm-sync asks SuiteCRM to use. SuiteCRM's V8 create accepts a client-chosen id and
 * refuses a second create with the same id ("Bean Calls with id … is already exist"), and the
 * primary key refuses it even when two creates race. A redelivered or replayed message therefore
 * finds its record instead of writing a second one.
 */
export const RecordIds = {
  pbxCall: (pbx: string, callId: string) => uuidV5(`call:${pbx}:${callId}`),
  aiConversation: (conversationId: string) => uuidV5(`ai-conversation:${conversationId}`),
  aiFailure: (conversationId: string) => uuidV5(`ai-failure:${conversationId}`),
  transcriptNote: (conversationId: string, part: number) => uuidV5(`ai-transcript:${conversationId}:${part}`),
};

/** A KV key token for any text: kept when it is key-safe, else base64url behind `b64_`. */
export function keyToken(value: string): string {
  return /^[A-Za-z0-9_-]{1,200}$/.test(value) ? value : `b64_${Buffer.from(value, 'utf8').toString('base64url')}`;
}

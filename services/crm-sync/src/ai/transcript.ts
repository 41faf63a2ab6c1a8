import type { AiConversationCompleted } from '@cti/contracts';
import { cleanTextForSuiteCrm, splitUtf8 } from '@cti/suitecrm';

const VERDICT_TEXT = { success: 'successful', failure: 'not successful', unknown: 'not evaluated' } as const;

/** First line of the AI section of a description; finding it means the section is there. */
export function sectionMarker(conversationId: string): string {
  return cleanTextForSuiteCrm(`--- AI conversation ${conversationId} ---`);
}

function clock(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(whole / 60)).padStart(2, '0')}:${String(whole % 60).padStart(2, '0')}`;
}

/** The transcript as people read it: `[mm:ss] AI agent: …`, one turn per line, cleaned for SuiteCRM. */
export function readableTranscript(event: AiConversationCompleted): string {
  const lines = event.transcript
    .filter((turn) => turn.message.trim() !== '')
    .map((turn) => `[${clock(turn.timeInCallSecs)}] ${turn.role === 'agent' ? 'AI agent' : 'Caller'}: ${turn.message.replace(/\s+/g, ' ').trim()}`);
  return cleanTextForSuiteCrm(lines.join('\n'));
}

/** Header lines of the AI section: title, verdict and summary. */
function header(event: AiConversationCompleted): string[] {
  const lines = [sectionMarker(event.conversationId)];
  if (event.title !== undefined && event.title !== '') {
    lines.push(`Title: ${event.title}`);
  }
  lines.push(`Result: ${VERDICT_TEXT[event.successful]}`);
  if (event.durationSeconds !== undefined) {
    lines.push(`Duration: ${Math.round(event.durationSeconds)} s`);
  }
  lines.push('Summary:', event.summary?.trim() === undefined || event.summary.trim() === '' ? '(no summary)' : event.summary.trim());
  return lines;
}

export interface AiSection {
  /** Text appended to the call's description. */
  text: string;
  /** Transcript parts to store as linked Notes; empty when the transcript is in `text`. */
  noteParts: string[];
}

/**
 * The AI section of a call's description. The transcript goes into the description when the
 * whole stays within `budgetBytes`; otherwise it is split into parts of at most `noteMaxBytes`
 * for linked Notes, so nothing is cut (SuiteCRM would cut `description` at 65,535 bytes).
 * `existingBytes` is the size of the description before the section, which makes the choice the
 * same on every delivery.
 */
export function aiSection(event: AiConversationCompleted, options: { existingBytes: number; budgetBytes: number; noteMaxBytes: number }): AiSection {
  const head = cleanTextForSuiteCrm(header(event).join('\n'));
  const transcript = readableTranscript(event);
  const inline = transcript === '' ? head : `${head}\n\nTranscript:\n${transcript}`;
  if (options.existingBytes + Buffer.byteLength(inline) + 2 <= options.budgetBytes) {
    return { text: inline, noteParts: [] };
  }
  const noteParts = splitUtf8(transcript, options.noteMaxBytes);
  return { text: `${head}\n\nTranscript: in ${noteParts.length} linked note${noteParts.length === 1 ? '' : 's'} of this call.`, noteParts };
}

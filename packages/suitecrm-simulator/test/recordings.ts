import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const RECORDINGS_DIR = join(import.meta.dirname, '../../../testdata/suitecrm');

export interface Exchange {
  name: string;
  request: {
    method: string;
    path: string;
    rawQuery?: string;
    headers: Record<string, string | number>;
    body?: unknown;
    rawBody?: string;
  };
  response: {
    status: number;
    headers: Record<string, string>;
    body: unknown;
    rawBody?: string;
  };
  notes?: string[];
  recordedAt: string;
}

export function recording(file: string): Exchange {
  return JSON.parse(readFileSync(join(RECORDINGS_DIR, file.endsWith('.json') ? file : `${file}.json`), 'utf8')) as Exchange;
}

export function recordingNames(prefix: string): string[] {
  return readdirSync(RECORDINGS_DIR)
    .filter((file) => file.startsWith(prefix) && file.endsWith('.json'))
    .map((file) => file.replace(/\.json$/, ''))
    .sort();
}

export interface SentExchange {
  status: number;
  contentType: string | null;
  text: string;
  headers: Headers;
}

/**
 * Sends a recorded request to a simulator: the same method, path, raw query, content type and
 * body; `REDACTED` in the Authorization header becomes the given token.
 */
export async function replay(baseUrl: string, exchange: Exchange, token: string, overrides: { authorization?: string | null } = {}): Promise<SentExchange> {
  const { request } = exchange;
  const headers: Record<string, string> = {};
  const contentType = request.headers['Content-Type'];
  if (typeof contentType === 'string') {
    headers['content-type'] = contentType;
  }
  const accept = request.headers['Accept'];
  if (typeof accept === 'string') {
    headers['accept'] = accept;
  }
  const authorization = overrides.authorization === undefined ? request.headers['Authorization'] : overrides.authorization;
  if (typeof authorization === 'string') {
    headers['authorization'] = authorization.replace('REDACTED', token);
  }
  let body: string | undefined;
  if (request.rawBody !== undefined) {
    body = request.rawBody;
  } else if (request.body !== null && request.body !== undefined) {
    body = JSON.stringify(request.body);
  }
  const url = `${baseUrl}${request.path}${request.rawQuery === undefined || request.rawQuery === '' ? '' : `?${request.rawQuery}`}`;
  const response = await fetch(url, { method: request.method, headers, ...(body === undefined ? {} : { body }) });
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text(), headers: response.headers };
}

/** Splits a body into its JSON document and any text SuiteCRM printed after it. */
export function splitBody(text: string): { json: unknown; trailing: string } {
  try {
    return { json: JSON.parse(text), trailing: '' };
  } catch {
    const end = text.lastIndexOf('}') + 1;
    for (let cut = end; cut > 0; cut = text.lastIndexOf('}', cut - 2) + 1) {
      try {
        return { json: JSON.parse(text.slice(0, cut)), trailing: text.slice(cut) };
      } catch {
        // try a shorter prefix
      }
    }
    return { json: undefined, trailing: text };
  }
}

export function recordedText(exchange: Exchange): string {
  const { response } = exchange;
  if (response.rawBody !== undefined) {
    return response.rawBody;
  }
  return typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
}

import { Writable } from 'node:stream';

export interface LogLines {
  /** A pino destination. */
  stream: Writable;
  /** Every line written so far, parsed. */
  lines: Record<string, unknown>[];
  /** Everything written so far, as text, for "never contains" checks. */
  text(): string;
}

export function collectLogLines(): LogLines {
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = chunk.toString('utf8');
      raw += text;
      partial += text;
      const complete = partial.split('\n');
      partial = complete.pop() ?? '';
      for (const line of complete) {
        if (line.trim() !== '') {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
      }
      callback();
    },
  });
  return { stream, lines, text: () => raw };
}

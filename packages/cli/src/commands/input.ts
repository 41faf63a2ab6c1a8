import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';

import { UsageError, type CommandIo } from '../command.js';

/** Source of a command's AMI input: `-` (stdin) or a file, with the file's kind from its extension. */
export interface AmiInput {
  kind: 'ami' | 'jsonl';
  path: string | undefined;
  stream: AsyncIterable<Uint8Array | string>;
}

/** Opens FILE or `-`; a missing file is a usage error naming the path. */
export async function openAmiInput(argument: string | undefined, io: CommandIo): Promise<AmiInput> {
  if (argument === undefined) {
    throw new UsageError('name a capture file, or - to read AMI from stdin');
  }
  if (argument === '-') {
    return { kind: 'ami', path: undefined, stream: io.stdin as AsyncIterable<Uint8Array | string> };
  }
  const path = resolve(io.cwd, argument);
  try {
    await access(path);
  } catch {
    throw new UsageError(`cannot read ${argument}: no such file`);
  }
  return { kind: path.endsWith('.jsonl') ? 'jsonl' : 'ami', path, stream: createReadStream(path) };
}

/** Reads a whole input into one buffer. */
export async function readAll(input: AmiInput): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of input.stream) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** Thrown by `writeLine` once the reader went away (`cti normalize x | head`). */
class OutputClosed extends Error {
  constructor() {
    super('output closed by the reader');
    this.name = 'OutputClosed';
  }
}

const closedOutputs = new WeakSet<object>();
const watchedOutputs = new WeakSet<object>();

/**
 * Runs a command that writes lines, ending it quietly when the reader closes the pipe: without
 * this, `| head` would crash the process with an unhandled EPIPE. The listener stays, since
 * the error can come after the command returned.
 */
export async function untilOutputCloses(io: CommandIo, run: () => Promise<number>): Promise<number> {
  if (!watchedOutputs.has(io.stdout)) {
    watchedOutputs.add(io.stdout);
    io.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') {
        throw error;
      }
      closedOutputs.add(io.stdout);
    });
  }
  try {
    return await run();
  } catch (error) {
    if (error instanceof OutputClosed) {
      return 0;
    }
    throw error;
  }
}

/** Writes a line and waits when the reader is slow, so a large capture does not pile up in memory. */
export async function writeLine(io: CommandIo, line: string): Promise<void> {
  if (closedOutputs.has(io.stdout) || io.stdout.destroyed) {
    throw new OutputClosed();
  }
  if (!io.stdout.write(`${line}\n`)) {
    await new Promise<void>((done) => {
      io.stdout.once('drain', () => done());
      io.stdout.once('error', () => done());
    });
  }
}

import { parseArgs } from 'node:util';

import { readAmiMessages } from '@cti/ami';

import { UsageError, type Command, type CommandIo } from '../command.js';
import { openAmiInput, readAll, untilOutputCloses, writeLine } from './input.js';

interface RecordingLine {
  dir: 'in' | 'out';
  data: string;
}

// The reads of Asterisk's side of a `.jsonl` recording, in order and with their boundaries, so
// the framer gets exactly the recorded reads.
async function* recordedReads(text: string): AsyncGenerator<Buffer> {
  for (const [index, raw] of text.split('\n').entries()) {
    if (raw.trim() === '') {
      continue;
    }
    let line: RecordingLine;
    try {
      line = JSON.parse(raw) as RecordingLine;
    } catch {
      throw new UsageError(`line ${index + 1} of the recording is not valid JSON`);
    }
    if (line.dir === 'in' && typeof line.data === 'string') {
      yield Buffer.from(line.data, 'utf8');
    }
  }
}

async function run(args: string[], io: CommandIo): Promise<number> {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
  if (positionals.length > 1) {
    throw new UsageError(`one input at a time, got ${positionals.length}`);
  }
  const input = await openAmiInput(positionals[0], io);
  const stream = input.kind === 'jsonl' ? recordedReads((await readAll(input)).toString('utf8')) : input.stream;
  // The same framer as the live socket, one read at a time.
  const messages = readAmiMessages(stream, {
    onBanner: (banner) => io.stderr.write(`banner: ${banner}\n`),
    onFault: (fault) => io.stderr.write(`${fault.code}: ${fault.message}\n`),
  });
  let count = 0;
  for await (const message of messages) {
    count += 1;
    await writeLine(io, JSON.stringify(message.pairs()));
    for (const index of message.fallbackDecoded ?? []) {
      io.stderr.write(`message ${count}: the value of ${message.fields[index * 2] ?? ''} is not UTF-8 and was decoded as Latin-1\n`);
    }
  }
  io.stderr.write(`${count} message(s)\n`);
  return 0;
}

export const frames: Command = {
  name: ['frames'],
  summary: 'Print each AMI message of a capture or stdin as a JSON array of [key, value] pairs, in wire order',
  usage: 'cti frames FILE|-',
  run: (args, io) => untilOutputCloses(io, () => run(args, io)),
};

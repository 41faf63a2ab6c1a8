import { parseArgs } from 'node:util';

import { readAmiMessages } from '@cti/ami';
import { CallModelConfig, createTracker, normalizeAmi, normalizeRecording, summarize, type CallModelSettings } from '@cti/ami-bridge';
import { loadConfig } from '@cti/config';
import type { CallEvent } from '@cti/contracts';

import { UsageError, type Command, type CommandIo } from '../command.js';
import { openAmiInput, readAll, untilOutputCloses, writeLine } from './input.js';

async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { full: { type: 'boolean', default: false }, pbx: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 1) {
    throw new UsageError(`one input at a time, got ${positionals.length}`);
  }
  // The same call model settings as the bridge, from the same variables.
  const model = loadConfig(CallModelConfig, io.environment);
  const settings: CallModelSettings = { ...model, pbx: values.pbx ?? io.environment['PBX_ID'] ?? 'pbx1' };
  const input = await openAmiInput(positionals[0], io);
  const render = (event: CallEvent) => JSON.stringify(values.full ? event : summarize(event));

  if (input.path === undefined) {
    // A live pipe: each event is printed as soon as the message that caused it arrives.
    const pending: CallEvent[] = [];
    const tracker = createTracker(settings, (event) => pending.push(event));
    for await (const message of readAmiMessages(input.stream)) {
      tracker.handle(message);
      for (const event of pending.splice(0)) {
        await writeLine(io, render(event));
      }
    }
    return 0;
  }

  // A file is read at once: without Timestamp headers every event gets the same read time, so
  // the output is the same on every run.
  const bytes = await readAll(input);
  const events = input.kind === 'jsonl' ? normalizeRecording(bytes.toString('utf8'), settings) : normalizeAmi(bytes, settings);
  for (const event of events) {
    await writeLine(io, render(event));
  }
  if (events.length === 0) {
    // Not an error: a capture without calls is valid. A wrong file is the usual cause, though.
    io.stderr.write(`no call events in ${input.path}: expected an AMI capture (.ami) or a recording (.jsonl) with calls in it\n`);
  }
  return 0;
}

export const normalize: Command = {
  name: ['normalize'],
  summary: 'Print the call events ami-bridge would publish for an AMI capture (.ami, .jsonl, or - for stdin), one JSON object per line',
  usage: 'cti normalize FILE|- [--full] [--pbx ID]',
  run: (args, io) => untilOutputCloses(io, () => run(args, io)),
};

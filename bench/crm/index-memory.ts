// Memory of the phone index per 100k CRM phone numbers: the in-memory mirror every replica
// keeps, and the size of the KV bucket behind it.
//   node --conditions=source --import tsx bench/crm/index-memory.ts [--numbers 100000]
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { Bus } from '@cti/bus';
import { PhoneIndex } from '@cti/crm-sync';
import { createLogger } from '@cti/logging';
import type { PhoneRecord } from '@cti/suitecrm';
import { startNatsServer } from '@cti/testing';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const { values } = parseArgs({ options: { numbers: { type: 'string', default: '100000' } } });
const numbers = Number(values.numbers);
const logger = createLogger({ service: 'bench', level: 'warn' });
const nats = await startNatsServer({ config: 'jetstream { max_memory_store: 64MB, max_file_store: 4GB }' });
try {
  const bus = await Bus.connect({ natsUrl: nats.url }, { name: 'bench', logger });
  const writer = await PhoneIndex.open({ js: bus.js, phone: { defaultRegion: 'US' }, logger });

  // Two numbers per contact for 40 % of the records, as CRMs hold mobile and work numbers.
  const records: PhoneRecord[] = [];
  let count = 0;
  for (let index = 0; count < numbers; index += 1) {
    const two = index % 5 < 2 && count + 2 <= numbers;
    const first = `+1 555 ${String(index).padStart(7, '0').slice(0, 3)} ${String(index).padStart(7, '0').slice(3)}`;
    const phones = [{ field: 'phone_mobile', value: first }];
    if (two) {
      phones.push({ field: 'phone_work', value: `(556) ${String(index).padStart(7, '0').slice(0, 3)}-${String(index).padStart(7, '0').slice(3)}` });
    }
    count += phones.length;
    records.push({
      module: 'Contacts',
      id: `c0000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
      name: `Firstname${index} Lastname${index}`,
      accountId: `a0000000-0000-4000-8000-${String(index % 5000).padStart(12, '0')}`,
      accountName: `Account ${index % 5000} Ltd`,
      dateModified: '2026-12-04T19:27:00+00:00',
      phones,
    });
  }
  const writeStarted = performance.now();
  for (let start = 0; start < records.length; start += 500) {
    await Promise.all(records.slice(start, start + 500).map((record) => writer.put(record)));
  }
  const writeSeconds = (performance.now() - writeStarted) / 1000;
  await writer.close();

  gc();
  const before = process.memoryUsage().heapUsed;
  const loadStarted = performance.now();
  const reader = await PhoneIndex.open({ js: bus.js, phone: { defaultRegion: 'US' }, logger, loadTimeoutMs: 600_000 });
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  gc();
  const after = process.memoryUsage().heapUsed;
  const status = await reader.kv.status();
  const perHundredThousand = ((after - before) / reader.size.numbers) * 100_000;

  process.stdout.write(`phone index, ${reader.size.records} records, ${reader.size.numbers} numbers\n`);
  process.stdout.write(`  in-memory mirror: ${((after - before) / 1024 / 1024).toFixed(1)} MiB heap, ${(perHundredThousand / 1024 / 1024).toFixed(1)} MiB per 100k numbers\n`);
  process.stdout.write(`  KV bucket:        ${(status.size / 1024 / 1024).toFixed(1)} MiB on disk, ${((status.size / reader.size.numbers) * 100_000 / 1024 / 1024).toFixed(1)} MiB per 100k numbers\n`);
  process.stdout.write(`  write ${records.length} records: ${writeSeconds.toFixed(1)} s; load into a new replica: ${loadSeconds.toFixed(1)} s\n`);
  await reader.close();
  await bus.drain();
} finally {
  await nats.dispose();
}

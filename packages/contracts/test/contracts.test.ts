import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  AllContracts,
  anyExtension,
  CallRinging,
  Consumers,
  extensionSubject,
  filterCovers,
  liveSubject,
  StreamReaders,
  Streams,
  type ContractError,
  GENERATED_END,
  GENERATED_START,
  isSubjectToken,
  renderSubjectsDoc,
  type CallRinging as CallRingingMessage,
} from '../src/index.js';

const ringing: CallRingingMessage = {
  v: 1,
  id: 'pbx1:1796412664.10:ringing:101:1',
  type: 'call.ringing',
  callId: '1796412664.10',
  pbx: 'pbx1',
  direction: 'inbound',
  caller: { number: '+15550100001', name: 'Alice Example' },
  callee: { number: '15550100100' },
  occurredAt: '2026-12-04T10:00:00.000Z',
  extension: '101',
  channel: 'PJSIP/101-0000000b',
};

describe('contracts', () => {
  it('builds subjects with the PBX and the extension as tokens', () => {
    expect(CallRinging.subjectOf(ringing)).toBe('call.ringing.pbx1.101');
    expect(CallRinging.filter({ extension: '101' })).toBe('call.ringing.*.101');
    expect(CallRinging.filter()).toBe('call.ringing.*.*');
  });

  it('rejects an extension that would escape its subject', () => {
    for (const extension of ['101.>', '*', '10 1', '', 'a'.repeat(65)]) {
      expect(isSubjectToken(extension)).toBe(false);
      expect(() => CallRinging.subjectOf({ ...ringing, extension })).toThrow();
    }
  });

  it('names the failing field', () => {
    const error = (() => {
      try {
        const { callId: _removed, ...withoutCallId } = ringing;
        CallRinging.parse(withoutCallId);
      } catch (caught) {
        return caught as ContractError;
      }
      throw new Error('expected a ContractError');
    })();
    expect(error.code).toBe('CTI_ERR_CONTRACT_MESSAGE_INVALID');
    expect(error.issues).toContainEqual({ path: '/callId', message: 'is missing' });
    expect(error.message).toBe('invalid call.ringing message: /callId is missing');
  });

  it('rejects an unknown version', () => {
    expect(CallRinging.check({ ...ringing, v: 2 })).toBe(false);
  });

  it('gives every contract a unique name, a version field and a publisher', () => {
    const names = AllContracts.map((contract) => contract.name);
    expect(new Set(names).size).toBe(names.length);
    for (const contract of AllContracts) {
      const properties = (contract.schema as { properties?: Record<string, unknown> }).properties ?? {};
      expect(Object.keys(properties), contract.name).toContain('v');
      expect(contract.publishedBy.length, contract.name).toBeGreaterThan(0);
    }
  });

  it('keeps request/reply subjects out of every stream', () => {
    for (const contract of AllContracts) {
      if (contract.kind !== 'event') {
        expect(contract.stream, contract.name).toBeNull();
        expect(contract.subjectPattern.startsWith('rpc.'), contract.name).toBe(true);
      }
    }
  });
});

// The NATS permissions are generated from these declarations, so an event read in any other way
// than they declare would be denied in production. Each consumer of an event must read it through
// one of its durable consumers or stream reads.
describe('access declarations', () => {
  const events = AllContracts.filter((contract) => contract.kind === 'event' && contract.stream !== null);
  const reads = [
    ...Object.values(Consumers).map((consumer) => ({ name: consumer.durable, service: consumer.service, stream: consumer.stream, filters: [consumer.filterSubject] })),
    ...Object.entries(StreamReaders).map(([name, reader]) => ({
      name,
      service: reader.service,
      stream: reader.stream,
      filters: [...reader.extensionSubjects, ...reader.ephemeralFilters].map((subject) => anyExtension(subject)),
    })),
  ];

  it('covers every consumed event', () => {
    for (const contract of events) {
      for (const service of contract.consumedBy.filter((name) => name !== 'cli')) {
        const covered = reads.some((read) => read.service === service && read.stream === contract.stream && read.filters.some((filter) => filterCovers(filter, contract.filter())));
        expect(covered, `${service} reads ${contract.name}`).toBe(true);
      }
    }
  });

  it('reads no event that its service does not consume', () => {
    for (const read of reads) {
      for (const filter of read.filters) {
        const matched = events.filter((contract) => contract.stream === read.stream && filterCovers(filter, contract.filter()));
        expect(matched.length, `${read.name} ${filter}`).toBeGreaterThan(0);
        for (const contract of matched) {
          expect(contract.consumedBy, `${read.name} ${filter} reads ${contract.name}`).toContain(read.service);
        }
      }
    }
  });

  it('reads live copies only of streams that republish them', () => {
    for (const reader of Object.values(StreamReaders)) {
      expect(Streams[reader.stream].republishLive, reader.stream).toBe(true);
    }
  });

  it('fills extension subjects with valid tokens only', () => {
    expect(liveSubject(extensionSubject('call.*.{pbx}.{extension}', { pbx: 'pbx1', extension: '101' }))).toBe('live.call.*.pbx1.101');
    expect(() => extensionSubject('call.*.{pbx}.{extension}', { pbx: 'pbx1', extension: '>' })).toThrow(/invalid subject token extension/);
  });

  it('matches subjects with NATS wildcard rules', () => {
    expect(filterCovers('call.*.*.*', 'call.ringing.*.*')).toBe(true);
    expect(filterCovers('call.ringing.*.*', 'call.*.*.*')).toBe(false);
    expect(filterCovers('call.>', 'call.completed.*')).toBe(true);
    expect(filterCovers('call.*.*.*', 'call.completed.*')).toBe(false);
    expect(filterCovers('crm.*.*.*.*', 'crm.call.logged.*')).toBe(false);
  });
});

describe('docs/subjects.md', () => {
  it('matches the contracts', () => {
    const path = join(import.meta.dirname, '../../../docs/subjects.md');
    const document = readFileSync(path, 'utf8');
    const start = document.indexOf(GENERATED_START);
    const end = document.indexOf(GENERATED_END);
    expect(start, 'generated section start marker').toBeGreaterThan(-1);
    expect(end, 'generated section end marker').toBeGreaterThan(start);
    const current = document.slice(start, end + GENERATED_END.length);
    // Run `pnpm cti docs` to rewrite the section after changing a contract.
    expect(current).toBe(renderSubjectsDoc(AllContracts));
  });
});

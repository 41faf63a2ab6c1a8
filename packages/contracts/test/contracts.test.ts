import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  AllContracts,
  CallRinging,
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

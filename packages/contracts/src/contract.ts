import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

import { CtiError, defineErrorCodes } from '@cti/errors';

import type { ServiceName } from './services.js';
import type { StreamName } from './streams.js';

export const ContractErrorCode = defineErrorCodes('CONTRACT', {
  MESSAGE_INVALID: 'CTI_ERR_CONTRACT_MESSAGE_INVALID',
  SUBJECT_TOKEN_INVALID: 'CTI_ERR_CONTRACT_SUBJECT_TOKEN_INVALID',
});

/** One failed check of a message against its schema, with the JSON pointer of the field. */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * A message that does not match its schema. `issues` names each failing field, so an operator
 * can tell a producer bug (a missing `callId`) from a version skew (an unknown `v`).
 */
export class ContractError extends CtiError<(typeof ContractErrorCode)[keyof typeof ContractErrorCode]> {
  readonly issues: FieldIssue[];

  constructor(contractName: string, issues: FieldIssue[]) {
    const first = issues[0];
    const where = first === undefined ? '' : `: ${first.path || '(root)'} ${first.message}`;
    super(ContractErrorCode.MESSAGE_INVALID, `invalid ${contractName} message${where}`, {
      details: { contract: contractName, issues },
    });
    this.name = 'ContractError';
    this.issues = issues;
  }
}

/**
 * A message that crosses NATS: its schema, its subject layout, the stream that stores it and who
 * publishes and consumes it. `docs/subjects.md` is checked against these descriptors by a test.
 */
export interface MessageContract<S extends TSchema = TSchema, P extends Record<string, string> = Record<string, string>> {
  /** Stable message name, also the first tokens of its subject (e.g. `call.ringing`). */
  readonly name: string;
  readonly kind: 'event' | 'request' | 'reply';
  readonly schema: S;
  /** Subject layout for docs, with `{token}` placeholders, e.g. `call.ringing.{pbx}.{extension}`. */
  readonly subjectPattern: string;
  /** JetStream stream that stores it, or null for core NATS request/reply. */
  readonly stream: StreamName | null;
  readonly publishedBy: readonly ServiceName[];
  readonly consumedBy: readonly ServiceName[];
  readonly description: string;
  /** Builds the concrete subject for one message. */
  subjectOf(message: Static<S>): string;
  /** Builds a subscription filter: a given token is used as is, a missing one becomes `*`. */
  filter(tokens?: Partial<P>): string;
  /** Returns the message typed, or throws ContractError naming each failing field. */
  parse(value: unknown): Static<S>;
  check(value: unknown): value is Static<S>;
}

// Subject tokens come from PBX ids and extensions. A dot, a wildcard or white space inside one
// would let a message land on another agent's subject, so they are rejected outright.
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function isSubjectToken(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}

export function assertSubjectToken(name: string, value: string): string {
  if (!TOKEN_PATTERN.test(value)) {
    throw new CtiError(
      ContractErrorCode.SUBJECT_TOKEN_INVALID,
      `invalid subject token ${name}=${JSON.stringify(value.slice(0, 80))}: expected 1-64 characters of A-Z a-z 0-9 _ -`,
      { details: { token: name } },
    );
  }
  return value;
}

/** Schema fragment for a value that becomes a subject token. */
export const SubjectToken = (description: string) =>
  Type.String({ pattern: TOKEN_PATTERN.source, description });

interface ContractSpec<S extends TSchema, P extends Record<string, string>> {
  name: string;
  kind: 'event' | 'request' | 'reply';
  schema: S;
  /** Names of the tokens after `name`, in order, each read from the message field of the same name. */
  tokens: readonly (keyof P & string)[];
  stream: StreamName | null;
  publishedBy: readonly ServiceName[];
  consumedBy: readonly ServiceName[];
  description: string;
  /** Subject prefix when it differs from the name (request/reply subjects live under `rpc.`). */
  subjectPrefix?: string;
}

export function defineContract<S extends TSchema, P extends Record<string, string> = Record<string, string>>(
  spec: ContractSpec<S, P>,
): MessageContract<S, P> {
  const validator = Compile(spec.schema);
  const prefix = spec.subjectPrefix ?? spec.name;
  const subjectPattern = [prefix, ...spec.tokens.map((token) => `{${token}}`)].join('.');

  // A missing property is reported by TypeBox on its parent; point at the property itself, so
  // the message reads `/callId is missing` rather than `(root) must have required properties`.
  const toIssues = (value: unknown): FieldIssue[] =>
    validator.Errors(value).flatMap((error) => {
      const missing = (error.params as { requiredProperties?: string[] }).requiredProperties;
      if (error.keyword === 'required' && missing !== undefined) {
        return missing.map((name) => ({ path: `${error.instancePath}/${name}`, message: 'is missing' }));
      }
      return [{ path: error.instancePath, message: error.message }];
    });

  return {
    name: spec.name,
    kind: spec.kind,
    schema: spec.schema,
    subjectPattern,
    stream: spec.stream,
    publishedBy: spec.publishedBy,
    consumedBy: spec.consumedBy,
    description: spec.description,
    subjectOf(message) {
      const record = message as Record<string, unknown>;
      const parts = spec.tokens.map((token) => assertSubjectToken(token, String(record[token] ?? '')));
      return [prefix, ...parts].join('.');
    },
    filter(tokens = {}) {
      const parts = spec.tokens.map((token) => {
        const value = tokens[token];
        return value === undefined ? '*' : assertSubjectToken(token, value);
      });
      return [prefix, ...parts].join('.');
    },
    parse(value) {
      if (validator.Check(value)) {
        return value;
      }
      throw new ContractError(spec.name, toIssues(value));
    },
    check(value): value is Static<S> {
      return validator.Check(value);
    },
  };
}

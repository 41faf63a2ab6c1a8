import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

import { PushError, PushErrorCode } from '../errors.js';

const validators = new WeakMap<TSchema, ReturnType<typeof Compile>>();

/** Checks a request body against its schema; a 400 names the first field that is wrong. */
export function parseBody<S extends TSchema>(schema: S, body: unknown, code: PushErrorCode = PushErrorCode.REQUEST_INVALID): Static<S> {
  let validator = validators.get(schema);
  if (validator === undefined) {
    validator = Compile(schema);
    validators.set(schema, validator);
  }
  if (validator.Check(body)) {
    return body as Static<S>;
  }
  throw new PushError(code, 400, `invalid request: ${describeIssue(validator, body)}`);
}

/** The first schema error as `<field> <problem>`; a missing property is named itself, not its parent. */
export function describeIssue(validator: ReturnType<typeof Compile>, value: unknown): string {
  const issue = validator.Errors(value)[0];
  if (issue === undefined) {
    return 'body does not match the schema';
  }
  const missing = (issue.params as { requiredProperties?: string[] }).requiredProperties?.[0];
  if (issue.keyword === 'required' && missing !== undefined) {
    return `${issue.instancePath}/${missing} is missing`;
  }
  return `${issue.instancePath === '' ? 'body' : issue.instancePath} ${issue.message}`;
}

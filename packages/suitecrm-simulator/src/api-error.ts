/**
 * An error response of the V8 API. SuiteCRM uses status 400 for nearly everything, with
 * `{"errors":{"status":400,"title":null,"detail":"..."}}` (one object, not the JSON:API array).
 * Errors found while reading the request parameters go out as `application/json`; errors raised
 * inside the controllers (record not found, database failure) as `application/vnd.api+json`.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly origin: 'params' | 'controller';
  /** Plain text SuiteCRM prints after the JSON document (a database failure does this). */
  readonly trailing: string | undefined;

  constructor(detail: string, origin: 'params' | 'controller', options: { status?: number; trailing?: string } = {}) {
    super(detail);
    this.name = 'ApiError';
    this.status = options.status ?? 400;
    this.origin = origin;
    this.trailing = options.trailing;
  }
}

export const DATABASE_FAILURE = 'Database failure. Please refer to suitecrm.log for details.';

export function databaseFailure(): ApiError {
  return new ApiError(DATABASE_FAILURE, 'controller', { trailing: DATABASE_FAILURE });
}

export function paramError(detail: string): ApiError {
  return new ApiError(detail, 'params');
}

export function controllerError(detail: string): ApiError {
  return new ApiError(detail, 'controller');
}

/** Symfony OptionsResolver's message for options it does not define. */
export function undefinedOptions(given: readonly string[], defined: readonly string[]): ApiError {
  const quote = (names: readonly string[]) => names.map((name) => `"${name}"`).join(', ');
  const noun = given.length === 1 ? 'The option' : 'The options';
  const verb = given.length === 1 ? 'does not exist' : 'do not exist';
  return paramError(`${noun} ${quote(given)} ${verb}. Defined options are: ${quote(defined)}.`);
}

import Type, { type TSchema } from 'typebox';

type Conversion = { value: unknown } | { error: string };

/**
 * One configuration value: the environment variable it comes from, what it is for, and how its
 * text becomes a typed value. `description` is printed in errors and in `.env.example`, so it says
 * what the value is for and in which unit.
 */
export interface ConfigField<T = unknown, Optional extends boolean = boolean> {
  readonly env: string;
  readonly description: string;
  /** Checks the converted value; all fields together form the service's config schema. */
  readonly schema: TSchema;
  /** Secrets can also come from `<env>_FILE`, and their value never appears in any message. */
  readonly secret: boolean;
  readonly optional: Optional;
  readonly defaultValue: T | undefined;
  /** Example for `.env.example`, when the default does not show the format. */
  readonly example: string | undefined;
  /** Variable read when `env` is unset, such as the platform-wide `PORT`. */
  readonly fallback: string | undefined;
  /** Turns the raw text into a value for the schema to check, or returns an error text. */
  convert(raw: string, fromFile: boolean): Conversion;
  /** Phantom member that carries the value type. */
  readonly __type?: T;
}

interface FieldOptions<T> {
  description: string;
  default?: T;
  example?: string;
  optional?: boolean;
  fallback?: string;
}

type Builder<T> = {
  (envName: string, options: FieldOptions<T> & { default: T }): ConfigField<T, false>;
  (envName: string, options: FieldOptions<T> & { optional: true }): ConfigField<T, true>;
  (envName: string, options: FieldOptions<T>): ConfigField<T, false>;
};

function builder<T>(schema: TSchema, convert: ConfigField['convert'], secret = false): Builder<T> {
  const build = (envName: string, options: FieldOptions<T>): ConfigField<T> => ({
    env: envName,
    description: options.description,
    schema,
    secret,
    optional: options.optional ?? false,
    defaultValue: options.default,
    example: options.example,
    fallback: options.fallback,
    convert,
  });
  return build as Builder<T>;
}

const asIs = (raw: string): Conversion => ({ value: raw });

function convertInteger(raw: string): Conversion {
  const text = raw.trim();
  return /^-?\d+$/.test(text) ? { value: Number.parseInt(text, 10) } : { error: 'expected a whole number' };
}

function convertNumber(raw: string): Conversion {
  const text = raw.trim();
  const value = Number(text);
  return text === '' || Number.isNaN(value) ? { error: 'expected a number' } : { value };
}

function convertBoolean(raw: string): Conversion {
  const text = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) {
    return { value: true };
  }
  if (['0', 'false', 'no', 'off'].includes(text)) {
    return { value: false };
  }
  return { error: 'expected true or false' };
}

function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Splits a secrets file: one secret per line; blank lines and `#` comments are ignored. */
export function splitSecretLines(raw: string): string[] {
  return raw
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function convertUrl(protocols: readonly string[]) {
  return (raw: string): Conversion => {
    for (const candidate of splitList(raw)) {
      let parsed: URL;
      try {
        parsed = new URL(candidate);
      } catch {
        return { error: `expected a URL (${protocols.join(', ')})` };
      }
      if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) {
        return { error: `expected a URL with scheme ${protocols.join(' or ')}` };
      }
    }
    return { value: raw.trim() };
  };
}

/** Field builders. Each returns a descriptor; `defineConfig` puts them together into one schema. */
export const env = {
  string: (constraints: { minLength?: number; maxLength?: number; pattern?: string } = {}) =>
    builder<string>(Type.String({ minLength: 1, ...constraints }), asIs),
  /** A secret string, also read from `<NAME>_FILE` and never printed. */
  secret: (constraints: { minLength?: number } = {}) =>
    builder<string>(Type.String({ minLength: 1, ...constraints }), asIs, true),
  /**
   * Several secrets at once, for rotation without a gap: comma-separated in `<NAME>`, or one per
   * line in `<NAME>_FILE`.
   */
  secretList: () =>
    builder<string[]>(
      Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
      (raw, fromFile) => ({ value: fromFile ? splitSecretLines(raw) : splitList(raw) }),
      true,
    ),
  integer: (constraints: { minimum?: number; maximum?: number } = {}) =>
    builder<number>(Type.Integer(constraints), convertInteger),
  number: (constraints: { minimum?: number; maximum?: number } = {}) =>
    builder<number>(Type.Number(constraints), convertNumber),
  boolean: () => builder<boolean>(Type.Boolean(), convertBoolean),
  port: () => builder<number>(Type.Integer({ minimum: 0, maximum: 65_535 }), convertInteger),
  /** One URL, or several comma-separated (NATS seed servers). */
  url: (protocols: readonly string[]) => builder<string>(Type.String({ minLength: 1 }), convertUrl(protocols)),
  list: () => builder<string[]>(Type.Array(Type.String({ minLength: 1 })), (raw) => ({ value: splitList(raw) })),
  enum: <const T extends readonly [string, ...string[]]>(values: T) =>
    builder<T[number]>(Type.Union(values.map((value) => Type.Literal(value))), (raw) =>
      values.includes(raw.trim()) ? { value: raw.trim() } : { error: `expected one of ${values.join(', ')}` },
    ),
  /** A subject-safe token such as a PBX id: 1-64 letters, digits, `_` or `-`. */
  token: () => builder<string>(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }), asIs),
  /** A file path; the file is read by the service, so only the path is configuration. */
  path: () => builder<string>(Type.String({ minLength: 1 }), asIs),
};

import Type from 'typebox';

/** ISO 8601 UTC timestamp with milliseconds, e.g. `2026-12-04T20:35:12.123Z`. */
export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601 UTC time' });

/** Message id: the JetStream message id, so a message published twice is stored once. */
export const MessageId = Type.String({ minLength: 1, maxLength: 128, description: 'Unique, deterministic message id' });

/** Phone number as the PBX or the provider sent it; may be empty when the number is withheld. */
export const PhoneNumber = Type.String({ maxLength: 64 });

export const Party = Type.Object({
  number: PhoneNumber,
  name: Type.Optional(Type.String({ maxLength: 256 })),
  /** True when the name was not valid UTF-8 and was decoded as Latin-1 instead. */
  nameFallbackDecoded: Type.Optional(Type.Boolean()),
});

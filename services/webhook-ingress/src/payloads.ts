import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

/**
 * Schemas of the ElevenLabs webhook bodies, in their wire names. Field names and which fields
 * are required follow the `@elevenlabs/elevenlabs-js` 2.73.0 serialization models and the
 * post-call webhook documentation. Objects accept extra properties, because ElevenLabs adds
 * fields without notice. Only the fields this service reads are described; a field that is sent
 * but not described is kept out of the normalized event, never rejected.
 *
 * Length limits match the contract fields they end up in, so an oversized value is a 400 naming
 * the field instead of a message the stream would refuse.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

/** Unix seconds: a number in the post-call webhook documentation, a string in the general webhook page. */
const EventTimestamp = Type.Union([Type.Number({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 64 })]);

const ConversationReference = {
  agent_id: Type.String({ maxLength: 128 }),
  conversation_id: Type.String({ minLength: 1, maxLength: 128 }),
};

/** A transcript entry. `message` is null on tool-call and tool-result entries. */
const TranscriptEntry = Type.Object({
  role: Type.String({ maxLength: 32 }),
  message: Nullable(Type.String()),
  time_in_call_secs: Type.Number({ minimum: 0 }),
});

/** `metadata.phone_call`: a union on `type` (`sip_trunking`, `twilio`, ...) sharing these fields. */
const PhoneCall = Type.Object({
  type: Nullable(Type.String({ maxLength: 32 })),
  direction: Nullable(Type.String({ maxLength: 16 })),
  agent_number: Nullable(Type.String({ maxLength: 64 })),
  external_number: Nullable(Type.String({ maxLength: 64 })),
  call_sid: Nullable(Type.String({ maxLength: 256 })),
  call_result: Nullable(Type.String({ maxLength: 32 })),
});

const ConversationMetadata = Type.Object({
  start_time_unix_secs: Nullable(Type.Number({ minimum: 0 })),
  call_duration_secs: Nullable(Type.Number({ minimum: 0 })),
  termination_reason: Nullable(Type.String()),
  phone_call: Nullable(PhoneCall),
});

const DataCollectionResult = Type.Object({ value: Type.Optional(Type.Unknown()) });

const ConversationAnalysis = Type.Object({
  call_successful: Nullable(Type.String({ maxLength: 32 })),
  transcript_summary: Nullable(Type.String()),
  call_summary_title: Nullable(Type.String()),
  data_collection_results: Nullable(Type.Record(Type.String(), DataCollectionResult)),
});

const InitiationClientData = Type.Object({
  dynamic_variables: Nullable(Type.Record(Type.String(), Type.Unknown())),
});

export const PostCallTranscriptionPayload = Type.Object({
  type: Type.Literal('post_call_transcription'),
  event_timestamp: EventTimestamp,
  data: Type.Object({
    ...ConversationReference,
    transcript: Type.Array(TranscriptEntry),
    metadata: Nullable(ConversationMetadata),
    analysis: Nullable(ConversationAnalysis),
    conversation_initiation_client_data: Nullable(InitiationClientData),
    has_audio: Nullable(Type.Boolean()),
  }),
});

export const PostCallAudioPayload = Type.Object({
  type: Type.Literal('post_call_audio'),
  event_timestamp: EventTimestamp,
  data: Type.Object({
    ...ConversationReference,
    /** Base64 of an MP3 of the whole call. */
    full_audio: Type.String({ minLength: 1 }),
  }),
});

export const CallInitiationFailurePayload = Type.Object({
  type: Type.Literal('call_initiation_failure'),
  event_timestamp: EventTimestamp,
  data: Type.Object({
    ...ConversationReference,
    /** `busy`, `no-answer` or `unknown` in the documentation; kept as text. */
    failure_reason: Type.String({ maxLength: 64 }),
    /** `type` is `sip` or `twilio`; `body` contains the provider's fields (SIP codes, Twilio form). */
    metadata: Nullable(
      Type.Object({
        type: Nullable(Type.String({ maxLength: 32 })),
        body: Nullable(Type.Record(Type.String(), Type.Unknown())),
      }),
    ),
  }),
});

/** The part every post-call webhook shares; unknown types are stored if they have at least this. */
export const WebhookEnvelope = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 128 }),
});

/**
 * The conversation-initiation request. The documentation names `caller_id`, `agent_id`,
 * `called_number` and `call_sid`; for SIP-trunk calls it speaks of a call id, so `call_id` is
 * read as well.
 */
export const ConversationInitRequestPayload = Type.Object({
  caller_id: Nullable(Type.String({ maxLength: 128 })),
  agent_id: Nullable(Type.String({ maxLength: 128 })),
  called_number: Nullable(Type.String({ maxLength: 128 })),
  call_sid: Nullable(Type.String({ maxLength: 256 })),
  call_id: Nullable(Type.String({ maxLength: 256 })),
});

export type PostCallTranscriptionPayload = Static<typeof PostCallTranscriptionPayload>;
export type PostCallAudioPayload = Static<typeof PostCallAudioPayload>;
export type CallInitiationFailurePayload = Static<typeof CallInitiationFailurePayload>;
export type ConversationInitRequestPayload = Static<typeof ConversationInitRequestPayload>;

/** One failed check, with the JSON pointer of the field. */
export interface PayloadIssue {
  path: string;
  message: string;
}

export interface PayloadValidator<T> {
  check(value: unknown): value is T;
  /** Every failing field; a missing property is reported at its own path, not at its parent. */
  issues(value: unknown): PayloadIssue[];
}

function validator<S extends TSchema>(schema: S): PayloadValidator<Static<S>> {
  const compiled = Compile(schema);
  return {
    check: (value): value is Static<S> => compiled.Check(value),
    issues: (value) =>
      compiled.Errors(value).flatMap((error) => {
        const missing = (error.params as { requiredProperties?: string[] }).requiredProperties;
        if (error.keyword === 'required' && missing !== undefined) {
          return missing.map((name) => ({ path: `${error.instancePath}/${name}`, message: 'is missing' }));
        }
        return [{ path: error.instancePath, message: error.message }];
      }),
  };
}

export const Validators = {
  envelope: validator(WebhookEnvelope),
  postCallTranscription: validator(PostCallTranscriptionPayload),
  postCallAudio: validator(PostCallAudioPayload),
  callInitiationFailure: validator(CallInitiationFailurePayload),
  conversationInit: validator(ConversationInitRequestPayload),
};

/**
 * Returns the failing issue that best explains a rejection: the deepest path, because a union
 * mismatch also reports every enclosing object.
 */
export function primaryIssue(issues: readonly PayloadIssue[]): PayloadIssue {
  let best: PayloadIssue = issues[0] ?? { path: '', message: 'does not match the schema' };
  for (const issue of issues) {
    if (issue.path.split('/').length > best.path.split('/').length) {
      best = issue;
    }
  }
  return best;
}

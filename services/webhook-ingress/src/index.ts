export { buildIngressApp, type IngressAppOptions } from './app.js';
export { openAudioStore, objectAudioStore, audioObjectName, type AudioStore } from './audio-store.js';
export { WebhookIngressConfig, type WebhookIngressSettings } from './config.js';
export { buildConversationInitResponse, type CallerLookup, type CallerVariables, type LookupStatus } from './conversation-init.js';
export { WebhookError, WebhookErrorCode } from './errors.js';
export { ingestDelivery, type IngestResult } from './ingest.js';
export { deliveryId, PBX_LINKEDID_VARIABLE } from './normalize.js';
export { createSourceFilter, parseTrustProxy } from './network.js';
export { checkTimestamp, matchesSharedSecret, parseSignatureHeader, SIGNATURE_HEADER, signPayload, SigningKeys } from './signature.js';

export { Backoff } from './backoff.js';
export {
  AmiClient,
  DEFAULT_ACTION_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_LOGIN_RETRY_MAX_MS,
  DEFAULT_LOGIN_RETRY_MIN_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_RECONNECT_MAX_MS,
  DEFAULT_RECONNECT_MIN_MS,
  isPermissionDenied,
  isSuccess,
  type AmiActionResult,
  type AmiClientOptions,
  type AmiConnectionState,
  type SendActionOptions,
} from './client.js';
export { detached, detachedOptional } from './detach.js';
export { AmiError, AmiErrorCode } from './errors.js';
export { AmiFramer, DEFAULT_MAX_MESSAGE_BYTES, type AmiFramerOptions, type AmiFramerStats } from './framer.js';
export { AmiMessage, formatAction, formatMessage, type AmiPair } from './message.js';
export { readAmiMessages, type ReadMessagesOptions } from './stream.js';

export { natsServerBinary, startNatsServer, type NatsServerHandle, type NatsServerOptions } from '@cti/nats-process';
export { deferred, waitFor } from './wait.js';
export { collectLogLines, type LogLines } from './log-lines.js';
export { openRawRequest, trickleRequest } from './raw-http.js';

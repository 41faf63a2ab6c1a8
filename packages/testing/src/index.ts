export { natsServerBinary, startNatsServer, type NatsServerHandle, type NatsServerOptions } from './nats-server.js';
export { deferred, waitFor } from './wait.js';
export { collectLogLines, type LogLines } from './log-lines.js';

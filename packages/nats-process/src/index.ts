export { natsServerBinary, startNatsServer, type NatsServerHandle, type NatsServerOptions } from './nats-server.js';

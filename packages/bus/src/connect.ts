import { readFileSync } from 'node:fs';

import type { Logger } from '@cti/logging';
import { credsAuthenticator, type NatsConnection, type ConnectionOptions } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

import { BusError, BusErrorCode } from './errors.js';

/** NATS settings as the config package reads them (see `natsFields`). */
export interface NatsSettings {
  natsUrl: string;
  natsUser?: string | undefined;
  natsPassword?: string | undefined;
  natsCredsFile?: string | undefined;
  natsTlsCaFile?: string | undefined;
  natsTlsCertFile?: string | undefined;
  natsTlsKeyFile?: string | undefined;
}

export interface ConnectOptions {
  /** Connection name shown by the NATS server (`nats server report connections`). */
  name: string;
  logger: Logger;
  /** Keep retrying the first connect instead of failing; services start before NATS in compose. */
  waitOnFirstConnect?: boolean;
  /**
   * Prefix of the connection's inboxes (replies, publish acknowledgements, pull deliveries). The
   * NATS permissions let each service subscribe only under its own prefix (`inboxPrefix` in
   * `@cti/contracts`); the default `_INBOX` works only where permissions are not enforced.
   */
  inboxPrefix?: string;
}

export function connectionOptions(settings: NatsSettings, options: ConnectOptions): ConnectionOptions {
  const connection: ConnectionOptions = {
    servers: settings.natsUrl.split(',').map((server) => server.trim()),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    waitOnFirstConnect: options.waitOnFirstConnect ?? true,
    pingInterval: 20_000,
    // The client otherwise builds an Error per request and publish for its async stack trace,
    // a measurable cost per webhook and per event; our errors carry the subject instead.
    noAsyncTraces: true,
    ...(options.inboxPrefix === undefined ? {} : { inboxPrefix: options.inboxPrefix }),
  };
  if (settings.natsUser !== undefined) {
    connection.user = settings.natsUser;
    connection.pass = settings.natsPassword ?? '';
  }
  if (settings.natsCredsFile !== undefined) {
    connection.authenticator = credsAuthenticator(new Uint8Array(readFileSync(settings.natsCredsFile)));
  }
  if (settings.natsTlsCaFile !== undefined || settings.natsTlsCertFile !== undefined) {
    connection.tls = {
      ...(settings.natsTlsCaFile === undefined ? {} : { caFile: settings.natsTlsCaFile }),
      ...(settings.natsTlsCertFile === undefined ? {} : { certFile: settings.natsTlsCertFile }),
      ...(settings.natsTlsKeyFile === undefined ? {} : { keyFile: settings.natsTlsKeyFile }),
    };
  }
  return connection;
}

/**
 * Connects to NATS and logs every change of the connection's state, so an operator sees a
 * disconnect and the matching reconnect in the service's own log.
 */
export async function connectNats(settings: NatsSettings, options: ConnectOptions): Promise<NatsConnection> {
  let connection: NatsConnection;
  try {
    connection = await connect(connectionOptions(settings, options));
  } catch (error) {
    throw new BusError(BusErrorCode.CONNECT_FAILED, `cannot connect to NATS at ${settings.natsUrl}`, { cause: error });
  }
  options.logger.info({ server: connection.getServer() }, 'nats connected');
  void watchStatus(connection, options.logger);
  return connection;
}

async function watchStatus(connection: NatsConnection, logger: Logger): Promise<void> {
  for await (const status of connection.status()) {
    switch (status.type) {
      case 'disconnect':
        logger.warn({ server: status.server }, 'nats disconnected');
        break;
      case 'reconnect':
        logger.info({ server: status.server }, 'nats reconnected');
        break;
      case 'error':
        logger.error({ err: status.error }, 'nats connection error');
        break;
      case 'ldm':
        logger.warn({ server: status.server }, 'nats server entering lame duck mode');
        break;
      case 'slowConsumer':
        logger.warn({ subject: status.sub.getSubject(), pending: status.pending }, 'nats slow consumer');
        break;
      default:
        break;
    }
  }
}

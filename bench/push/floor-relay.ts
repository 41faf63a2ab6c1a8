/**
 * One relay of the latency floor (floor.ts), run as its own process. `in` reads what the
 * benchmark's PBX socket sends and publishes it to NATS, as ami-bridge does. `out` subscribes
 * and writes what arrives to the benchmark's socket, as the gateway does. Neither does anything
 * else.
 *
 *   node --conditions=source --import tsx bench/push/floor-relay.ts in|out <nats url> <tcp port>
 */
import { connect as connectTcp } from 'node:net';

import { connect } from '@nats-io/transport-node';

const [role, natsUrl, port] = process.argv.slice(2);
const SUBJECT = 'bench.floor';

const nats = await connect({ servers: natsUrl });
const socket = connectTcp(Number(port), '127.0.0.1');
socket.setNoDelay(true);
socket.on('error', () => process.exit(1));
process.once('SIGTERM', () => process.exit(0));

if (role === 'in') {
  socket.on('data', (chunk) => nats.publish(SUBJECT, chunk));
} else {
  nats.subscribe(SUBJECT, {
    callback: (_error, message) => {
      socket.write(message.data);
    },
  });
  await nats.flush();
}
// Tells the benchmark that this relay is connected and, for `out`, subscribed.
socket.write(`ready-${role};`);

// A reference for the webhook benchmark: the Express receiver's job done on node:http alone,
// with no framework. It verifies the same HMAC over the raw body with a constant-time compare,
// parses the JSON and responds 200, and stores nothing. It shows what Node.js itself costs per
// delivery on this machine: whatever a receiver spends above it is its framework and its work.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';

const secret = process.env['BENCH_SECRET'] ?? '';
const MAX_AGE_SECONDS = 1800;

function reply(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

const server = createServer((request, response) => {
  if (request.method !== 'POST' || request.url !== '/webhooks/elevenlabs') {
    reply(response, 404, { error: 'not found' });
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks);
    const header = request.headers['elevenlabs-signature'];
    const parts = (typeof header === 'string' ? header : '').split(',').map((part) => part.trim());
    const t = parts.find((part) => part.startsWith('t='))?.slice(2) ?? '';
    const v0 = parts.find((part) => part.startsWith('v0='))?.slice(3) ?? '';
    if (!/^\d+$/.test(t) || Number(t) < Date.now() / 1000 - MAX_AGE_SECONDS || !/^[0-9a-f]{64}$/.test(v0)) {
      reply(response, 401, { error: 'invalid signature' });
      return;
    }
    const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
    if (!timingSafeEqual(expected, Buffer.from(v0, 'hex'))) {
      reply(response, 401, { error: 'invalid signature' });
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      reply(response, 400, { error: 'invalid JSON' });
      return;
    }
    reply(response, 200, { status: parsed === undefined ? 'empty' : 'received' });
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));

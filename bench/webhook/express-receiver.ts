// The baseline of the webhook benchmark: the smallest Express 4 receiver that still does the
// job correctly. It verifies the same HMAC over the raw body with a constant-time compare,
// parses the JSON and responds 200. It stores nothing, so it has no durability cost at all.
import { createHmac, timingSafeEqual } from 'node:crypto';

import express from 'express';

const secret = process.env['BENCH_SECRET'] ?? '';
const port = Number(process.env['BENCH_PORT'] ?? '0');
const MAX_AGE_SECONDS = 1800;

const app = express();
app.disable('x-powered-by');

app.post('/webhooks/elevenlabs', express.raw({ type: 'application/json', limit: '64mb' }), (request, response) => {
  const body = request.body as Buffer;
  const header = request.get('elevenlabs-signature') ?? '';
  const parts = header.split(',').map((part) => part.trim());
  const t = parts.find((part) => part.startsWith('t='))?.slice(2) ?? '';
  const v0 = parts.find((part) => part.startsWith('v0='))?.slice(3) ?? '';
  if (!/^\d+$/.test(t) || Number(t) < Date.now() / 1000 - MAX_AGE_SECONDS || !/^[0-9a-f]{64}$/.test(v0)) {
    response.status(401).json({ error: 'invalid signature' });
    return;
  }
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  if (!timingSafeEqual(expected, Buffer.from(v0, 'hex'))) {
    response.status(401).json({ error: 'invalid signature' });
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    response.status(400).json({ error: 'invalid JSON' });
    return;
  }
  response.status(200).json({ status: parsed === undefined ? 'empty' : 'received' });
});

const server = app.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : port })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));

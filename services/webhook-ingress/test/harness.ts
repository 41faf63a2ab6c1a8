import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';

import { Bus, type Publisher } from '@cti/bus';
import { CallerLookupReply, CallerLookupRequest, Streams } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { createAuditor } from '@cti/runtime';
import { collectLogLines, type LogLines } from '@cti/testing';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';

import { buildIngressApp, type IngressAppOptions } from '../src/app.js';
import { openAudioStore, type AudioStore } from '../src/audio-store.js';
import { signPayload } from '../src/signature.js';

const FIXTURES = new URL('../../../testdata/elevenlabs/', import.meta.url);

/** Secret and timestamp of every `.sig` fixture, from the fixtures README. */
export const FIXTURE_SECRET = 'whsec_test_fixture_secret';
export const PHONE_HASH_KEY = 'webhook-test-phone-hash-key-4d1f';
export const FIXTURE_T = 1767225600;
/** The clock the fixture tests run at: one minute after the fixtures were signed. */
export const FIXTURE_NOW_MS = (FIXTURE_T + 60) * 1000;

export interface Fixture {
  name: string;
  body: Buffer;
  signature: string;
  json: Record<string, unknown>;
}

export function fixture(name: string): Fixture {
  const body = readFileSync(new URL(`${name}.json`, FIXTURES));
  let signature = '';
  try {
    signature = readFileSync(new URL(`${name}.sig`, FIXTURES), 'utf8');
  } catch {
    // The conversation-init response has no signature.
  }
  return { name, body, signature, json: JSON.parse(body.toString('utf8')) as Record<string, unknown> };
}

/** A fixture body with some fields replaced, signed at `t` with `secret`. */
export function variant(
  name: string,
  change: (json: Record<string, unknown>) => void,
  options: { t?: number; secret?: string } = {},
): { body: Buffer; signature: string } {
  const json = structuredClone(fixture(name).json);
  change(json);
  const body = Buffer.from(JSON.stringify(json));
  return { body, signature: signPayload(body, options.secret ?? FIXTURE_SECRET, options.t ?? FIXTURE_T) };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

/**
 * Sends one request over a real socket with node:http, which keeps header names as written and
 * can send the body in chunks (ElevenLabs delivers audio with Transfer-Encoding: chunked).
 */
export function send(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: Buffer | string; chunks?: number } = {},
): Promise<HttpResult> {
  const target = new URL(options.path ?? '/webhooks/elevenlabs', url);
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (body !== undefined && options.chunks === undefined) {
    headers['content-length'] = String(body.length);
  }
  return new Promise((resolve, reject) => {
    const request = httpRequest(target, { method: options.method ?? 'POST', headers }, (response) => {
      const parts: Buffer[] = [];
      response.on('data', (chunk: Buffer) => parts.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    if (body !== undefined && options.chunks !== undefined) {
      const size = Math.ceil(body.length / options.chunks);
      for (let offset = 0; offset < body.length; offset += size) {
        request.write(body.subarray(offset, offset + size));
      }
    } else if (body !== undefined) {
      request.write(body);
    }
    request.end();
  });
}

/** Posts a signed delivery to the post-call route. */
export function deliver(url: string, body: Buffer | string, signature: string | undefined, headers: Record<string, string> = {}): Promise<HttpResult> {
  return send(url, {
    body,
    headers: {
      'content-type': 'application/json',
      ...(signature === undefined ? {} : { 'ElevenLabs-Signature': signature }),
      ...headers,
    },
  });
}

export interface RunningIngress {
  url: string;
  app: FastifyInstance;
  bus: Bus;
  registry: Registry;
  logs: LogLines;
  audioStore: AudioStore;
  /** Moves the service's clock, which starts one minute after the fixtures' timestamp. */
  setNow(milliseconds: number): void;
  /** Every message of a stream, oldest first, parsed. */
  messages(stream: 'AI' | 'AUDIT'): Promise<Record<string, unknown>[]>;
  lastSequence(stream: 'AI' | 'AUDIT'): Promise<number>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export type IngressOverrides = Partial<Omit<IngressAppOptions, 'publisher'>> & {
  wrapPublisher?: (publisher: Publisher) => Publisher;
  publishTimeoutMs?: number;
};

/**
 * Starts webhook-ingress in this process against a private nats-server, as `main.ts` wires it,
 * listening on a free port of 127.0.0.1. Logs are collected for the "no secret logged" checks.
 */
export async function startIngress(natsUrl: string, overrides: IngressOverrides = {}): Promise<RunningIngress> {
  const logs = collectLogLines();
  const logger = createLogger({ service: 'webhook-ingress', level: 'debug', destination: logs.stream });
  const registry = new Registry();
  const bus = await Bus.connect({ natsUrl }, { name: 'webhook-ingress-test', logger, registry });
  await bus.ensureStreams(['AI', 'AUDIT']);
  const audioStore = overrides.audioStore ?? (await openAudioStore(bus, { logger, timeoutMs: 2000 }));
  const basePublisher = bus.createPublisher({ timeoutMs: overrides.publishTimeoutMs ?? 1500 });
  const publisher = overrides.wrapPublisher?.(basePublisher) ?? basePublisher;
  const auditor = createAuditor({ bus, service: 'webhook-ingress', logger, phoneHashKey: PHONE_HASH_KEY });
  let nowMs = FIXTURE_NOW_MS;

  const { app } = await buildIngressApp({
    webhookSecrets: [FIXTURE_SECRET],
    window: { maxAgeSeconds: 1800, maxFutureSeconds: 300 },
    conversationInit: { secrets: ['init-shared-secret-5f1e2d'], header: 'X-Conversation-Init-Secret', lookupTimeoutMs: 1500 },
    allowedIps: undefined,
    requestTimeoutMs: 60_000,
    bodyLimitBytes: 64 * 1024,
    postCallBodyLimitBytes: 1024 * 1024,
    // Two of the largest deliveries at once, as the service's own default allows four.
    bodyBytesInFlight: 2 * (overrides.postCallBodyLimitBytes ?? 1024 * 1024),
    rateLimit: { max: 10_000, windowSeconds: 10 },
    retryAfterSeconds: 30,
    maxEventBytes: Streams.AI.maxMessageBytes - 4096,
    trustProxy: false,
    https: undefined,
    logger,
    registry,
    audioStore,
    lookupCaller: (number, timeoutMs) => bus.request(CallerLookupRequest, CallerLookupReply, { v: 1, number, requestedBy: 'webhook-ingress' }, timeoutMs),
    isBusConnected: () => bus.isConnected(),
    auditor,
    auditNumbers: true,
    now: () => nowMs,
    ...overrides,
    publisher,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const scheme = overrides.https === undefined ? 'http' : 'https';

  const lastSequence = async (stream: 'AI' | 'AUDIT') => (await bus.jsm.streams.info(stream)).state.last_seq;

  return {
    url: `${scheme}://127.0.0.1:${port}`,
    app,
    bus,
    registry,
    logs,
    audioStore,
    setNow(milliseconds) {
      nowMs = milliseconds;
    },
    async messages(stream) {
      const info = await bus.jsm.streams.info(stream);
      const result: Record<string, unknown>[] = [];
      for (let sequence = info.state.first_seq; sequence <= info.state.last_seq && info.state.messages > 0; sequence += 1) {
        const message = await bus.jsm.streams.getMessage(stream, { seq: sequence }).catch(() => null);
        if (message !== null) {
          result.push({ ...(message.json<Record<string, unknown>>()), _subject: message.subject, _seq: message.seq });
        }
      }
      return result;
    },
    lastSequence,
    async metric(name, labels = {}) {
      const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
      const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
      return values
        .filter((value) => Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected))
        .reduce((sum, value) => sum + value.value, 0);
    },
    async close() {
      await app.close();
      await bus.drain();
    },
  };
}

/** Secrets, signatures and raw numbers that must never appear in a log line. */
export function forbiddenLogText(extra: readonly string[] = []): string[] {
  const signatures = ['post_call_transcription.inbound_sip', 'post_call_transcription.outbound_sip', 'post_call_audio', 'call_initiation_failure.sip_busy'].map(
    (name) => fixture(name).signature.split('v0=')[1] ?? '',
  );
  return [FIXTURE_SECRET, 'init-shared-secret-5f1e2d', ...signatures, '+14155550142', '+14155550177', '+14155550163', ...extra];
}

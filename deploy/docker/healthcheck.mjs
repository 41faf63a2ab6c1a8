/* global fetch, AbortSignal */
// Container health check: exits 0 when the service's GET /healthz returns 200 within 2 seconds.
// Usage: node healthcheck.mjs <PORT_VARIABLE> <DEFAULT_PORT>
// The port comes from the same variable the service reads (OPS_PORT, PUSH_HTTP_PORT or
// WEBHOOK_HTTP_PORT), and the address from its *_HOST partner, so a changed setting is checked
// where the service listens. Node itself makes the request: the image has no curl.

const [variable = 'OPS_PORT', fallback = '9464'] = process.argv.slice(2);
const port = process.env[variable] || fallback;
// A service bound to every interface is reached on loopback; one bound to a single address there.
const bound = process.env[variable.replace(/PORT$/, 'HOST')];
const host = bound === undefined || bound === '' || bound === '0.0.0.0' || bound === '::' ? '127.0.0.1' : bound;

try {
  const response = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
  if (response.status !== 200) {
    process.stderr.write(`health check failed: GET /healthz returned ${response.status}\n`);
    process.exit(1);
  }
} catch (error) {
  process.stderr.write(`health check failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

/* global fetch, AbortSignal */
// Container health check: exits 0 when the service's GET /healthz returns 200 within 2 seconds.
// Usage: node healthcheck.mjs <PORT_VARIABLE> <DEFAULT_PORT>
// The port comes from the same variable the service reads (PORT or OPS_PORT), so a changed port
// is checked where the service listens. Node itself makes the request: the image has no curl.

const [variable = 'PORT', fallback = '8080'] = process.argv.slice(2);
const port = process.env[variable] || fallback;
// A service bound to every interface is reached on loopback; one bound to a single address there.
const bound = variable === 'OPS_PORT' ? process.env.OPS_HOST : process.env.HOST;
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

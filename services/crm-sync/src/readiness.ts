import type { Bus } from '@cti/bus';
import type { Logger } from '@cti/logging';
import type { ReadinessCheck } from '@cti/runtime';
import { SuiteCrmError, type SuiteCrmClient } from '@cti/suitecrm';

/** Readiness: NATS connected, and a SuiteCRM token held with the circuit breaker closed. */
export function crmReadiness(bus: Bus, client: SuiteCrmClient): ReadinessCheck[] {
  return [
    { name: 'nats', check: () => bus.isConnected() || 'not connected to NATS' },
    {
      name: 'suitecrm',
      check: () => {
        const token = client.tokenState();
        if (token.status === 'failed') {
          return `no SuiteCRM token: ${token.lastErrorCode ?? 'token request failed'}`;
        }
        if (token.status === 'none') {
          return 'no SuiteCRM token yet';
        }
        if (client.circuitState() === 'open') {
          return 'SuiteCRM circuit breaker open after repeated failures';
        }
        return true;
      },
    },
  ];
}

/**
 * Keeps a SuiteCRM token: gets one at start and renews it before it expires, even while no
 * call comes in, so readiness reports the CRM's real state and the first call after a quiet
 * hour does not wait for a token.
 */
export function startTokenKeeper(options: { client: SuiteCrmClient; logger: Logger; intervalMs: number }): { stop: () => void } {
  const renew = () => {
    if (options.client.tokenState().status === 'valid') {
      return;
    }
    options.client.authenticate().catch((error: unknown) => {
      options.logger.warn({ err: error, code: error instanceof SuiteCrmError ? error.code : undefined }, 'suitecrm token request failed');
    });
  };
  renew();
  const timer = setInterval(renew, options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

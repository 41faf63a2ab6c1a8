import { CtiError, defineErrorCodes } from '@cti/errors';
import { errors as natsErrors } from '@nats-io/nats-core';

export const BusErrorCode = defineErrorCodes('BUS', {
  CONNECT_FAILED: 'CTI_ERR_BUS_CONNECT_FAILED',
  PUBLISH_FAILED: 'CTI_ERR_BUS_PUBLISH_FAILED',
  PUBLISH_TIMEOUT: 'CTI_ERR_BUS_PUBLISH_TIMEOUT',
  NO_STREAM: 'CTI_ERR_BUS_NO_STREAM',
  REQUEST_TIMEOUT: 'CTI_ERR_BUS_REQUEST_TIMEOUT',
  NO_RESPONDER: 'CTI_ERR_BUS_NO_RESPONDER',
  REQUEST_REJECTED: 'CTI_ERR_BUS_REQUEST_REJECTED',
  PERMISSION_DENIED: 'CTI_ERR_BUS_PERMISSION_DENIED',
  STREAM_SETUP_FAILED: 'CTI_ERR_BUS_STREAM_SETUP_FAILED',
  MESSAGE_UNDECODABLE: 'CTI_ERR_BUS_MESSAGE_UNDECODABLE',
  MESSAGE_TOO_LARGE: 'CTI_ERR_BUS_MESSAGE_TOO_LARGE',
});

export type BusErrorCode = (typeof BusErrorCode)[keyof typeof BusErrorCode];

export class BusError extends CtiError<BusErrorCode> {
  constructor(code: BusErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = 'BusError';
  }
}

/**
 * A handler error that retrying cannot fix (a record the CRM rejects as invalid, say). The
 * consumer sends the message to the dead-letter stream at once instead of redelivering it.
 */
export class PermanentError extends CtiError {
  constructor(code: string, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = 'PermanentError';
  }
}

function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 5) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/** Maps an error of the NATS client to a BusError with a stable code, keeping it as `cause`. */
export function toBusError(error: unknown, fallback: BusErrorCode, subject: string): BusError {
  if (error instanceof BusError) {
    return error;
  }
  const chain = causeChain(error);
  const details = { subject };
  if (chain.some((item) => item instanceof natsErrors.NoRespondersError || (item instanceof natsErrors.RequestError && item.isNoResponders()))) {
    const code = fallback === BusErrorCode.PUBLISH_FAILED ? BusErrorCode.NO_STREAM : BusErrorCode.NO_RESPONDER;
    const text = code === BusErrorCode.NO_STREAM ? `no stream stores subject "${subject}"` : `no service answers "${subject}"`;
    return new BusError(code, text, { cause: error, details });
  }
  if (chain.some((item) => item instanceof natsErrors.TimeoutError)) {
    const code = fallback === BusErrorCode.PUBLISH_FAILED ? BusErrorCode.PUBLISH_TIMEOUT : BusErrorCode.REQUEST_TIMEOUT;
    return new BusError(code, `timed out waiting for an answer on "${subject}"`, { cause: error, details });
  }
  if (chain.some((item) => item instanceof natsErrors.PermissionViolationError)) {
    return new BusError(BusErrorCode.PERMISSION_DENIED, `permission denied on "${subject}"`, { cause: error, details });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new BusError(fallback, `${message} on "${subject}"`, { cause: error, details });
}

/** True when the NATS server refused the operation for the user's permissions. */
export function isPermissionDenied(error: unknown): boolean {
  return causeChain(error).some((item) => item instanceof natsErrors.PermissionViolationError);
}

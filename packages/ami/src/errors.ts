import { CtiError, defineErrorCodes } from '@cti/errors';

export const AmiErrorCode = defineErrorCodes('AMI', {
  /** Asterisk answered the Login with `Response: Error` (wrong user or secret, or a host not permitted). */
  LOGIN_REJECTED: 'CTI_ERR_AMI_LOGIN_REJECTED',
  /** An action was sent while no logged-in AMI connection existed. */
  NOT_CONNECTED: 'CTI_ERR_AMI_NOT_CONNECTED',
  /** The connection closed before the action got its response. */
  CONNECTION_CLOSED: 'CTI_ERR_AMI_CONNECTION_CLOSED',
  ACTION_TIMEOUT: 'CTI_ERR_AMI_ACTION_TIMEOUT',
  /** An action header name or value would break the framing (CR, LF, or a name that is not a token). */
  ACTION_INVALID: 'CTI_ERR_AMI_ACTION_INVALID',
  /** A message grew past the frame limit before its terminating blank line; it was skipped. */
  FRAME_TOO_LARGE: 'CTI_ERR_AMI_FRAME_TOO_LARGE',
  /** A message ended before its terminating blank line (a new `Event:` started, or the stream ended). */
  FRAME_TRUNCATED: 'CTI_ERR_AMI_FRAME_TRUNCATED',
  PING_TIMEOUT: 'CTI_ERR_AMI_PING_TIMEOUT',
  CONNECT_FAILED: 'CTI_ERR_AMI_CONNECT_FAILED',
});

export type AmiErrorCode = (typeof AmiErrorCode)[keyof typeof AmiErrorCode];

export class AmiError extends CtiError<AmiErrorCode> {
  constructor(code: AmiErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = 'AmiError';
  }
}

export { CaptureErrorCode, loadCapture, originateEvents, parseCapture, unsolicitedEvents, type Capture, type CapturedMessage } from './capture.js';
export { ChannelTable } from './channels.js';
export { IdRewriter, type Substitutions } from './rewrite.js';
export { RECORDED_READ, RECORDED_WRITE, type ReplayCredentials } from './session.js';
export {
  DEFAULT_CREDENTIALS,
  startReplayServer,
  type OriginateCaptures,
  type OriginateOutcome,
  type ReceivedAction,
  type ReplayServer,
  type ReplayServerOptions,
  type ReplayTiming,
} from './server.js';
export { demoReplayOptions, DEMO_CAPTURES } from './demo.js';
export { responses } from './responses.js';

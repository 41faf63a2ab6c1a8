export { AmiBridgeConfig, CallModelConfig, callModelFields, type AmiBridgeSettings } from './config.js';
export { parseChannel, type ChannelNaming, type ChannelParty } from './model/channel-name.js';
export { FREEPBX_DIRECTION_RULES, type DirectionRules } from './model/directions.js';
export { eventId } from './model/events.js';
export { resyncChannels, type ResyncReport } from './model/resync.js';
export { CallTracker, type TrackerOptions } from './model/tracker.js';
export {
  createTracker,
  DEFAULT_CALL_MODEL,
  noteAction,
  normalizeAmi,
  normalizeRecording,
  NormalizeErrorCode,
  summarize,
  type CallModelSettings,
  type NormalizedLine,
} from './normalize.js';

export { ApiKeyStore, generateApiKey, hashApiKey, parseApiKeyFile, type ApiKeyEntry } from './api-keys.js';
export { agentTokenFields, agentTokenKeyRule, PushGatewayConfig, type PushGatewaySettings } from './config.js';
export { normalizeDialNumber, type DialOutcome } from './dial.js';
export { PushError, PushErrorCode } from './errors.js';
export { startGateway, type Gateway, type GatewayOptions } from './gateway.js';
export {
  ClientFrame,
  CloseCode,
  formatCursor,
  parseCursor,
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
  type Cursor,
  type EventFrame,
  type ServerFrame,
  type Snapshot,
} from './protocol.js';
export { AgentTokenKeys, mintAgentToken, verifyAgentToken, type AgentClaims } from './tokens.js';

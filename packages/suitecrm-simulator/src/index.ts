export { SuiteCrmApp, type ApiResult } from './app.js';
export { OAuthServer, type LoginUser, type OAuthClient } from './auth.js';
export type { RelationRow, Row } from './database.js';
export { Faults, type Fault, type FaultMatch } from './faults.js';
export { fixedLatency, recordedLatency, type LatencyModel } from './latency.js';
export {
  DEMO_SEED,
  numberFormats,
  RECORDED_LOOKUP_CASES,
  RECORDED_SEED,
  type LookupCase,
  type SeedAccount,
  type SeedData,
  type SeedPerson,
  type SeedUser,
} from './seeds.js';
export type { RecordedRequest } from './server.js';
export {
  RECORDED_ADMIN_LOGIN,
  RECORDED_CLIENT_CREDENTIALS,
  RECORDED_PASSWORD_CLIENT,
  startSuiteCrmSimulator,
  type SimulatorOptions,
  type SuiteCrmSimulator,
} from './simulator.js';

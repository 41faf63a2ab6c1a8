export { EXIT_CONFIG, runService, type RunServiceOptions, type ServiceContext } from './run-service.js';
export {
  CHECK_TIMEOUT_MS,
  DEFAULT_OPS_PORTS,
  evaluateReadiness,
  opsFields,
  registerOpsRoutes,
  startOpsServer,
  type CheckResult,
  type OpsRoutesOptions,
  type ReadinessCheck,
} from './ops.js';
export { boundedServerFactory, jsonClientErrorHandler, type BoundedServerOptions, type ClientErrorResponses } from './http-server.js';
export { RepeatThrottle, type RepeatThrottleOptions } from './repeat-throttle.js';
export { createAuditor, type Auditor, type AuditRecord } from './audit.js';
export { createHttpMetrics, httpRouteOf, observeHttpRequests, type HttpMetrics } from './http-metrics.js';
export { registerJetStreamUsage, type JetStreamUsageOptions } from './jetstream-usage.js';
export { retentionFields, retentionOverrides, retentionRule, type RetentionSettings } from './retention.js';

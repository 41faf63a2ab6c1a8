export { EXIT_CONFIG, runService, type RunServiceOptions, type ServiceContext } from './run-service.js';
export { opsFields, registerOpsRoutes, startOpsServer, type OpsRoutesOptions, type ReadinessCheck } from './ops.js';
export { createAuditor, type Auditor, type AuditRecord } from './audit.js';
export { retentionFields, retentionOverrides, type RetentionSettings } from './retention.js';

export { CrmSyncConfig, type CrmSyncSettings } from './config.js';
export { CrmSyncErrorCode } from './errors.js';
export { keyToken, RecordIds, uuidV5 } from './ids.js';
export { createMetrics, crmObserver, type CrmSyncMetrics } from './metrics.js';
export { PhoneIndex } from './phone-index/index-store.js';
export { Consumers, CRM_SYNC_STREAMS, startCrmSync, type CrmSync, type CrmSyncOptions } from './service.js';

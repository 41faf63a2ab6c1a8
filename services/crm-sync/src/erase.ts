import type { CrmEraseReply, CrmEraseRequest } from '@cti/contracts';
import type { Logger } from '@cti/logging';

import { CrmSyncError, CrmSyncErrorCode } from './errors.js';
import type { LookupCache } from './lookup/cache.js';
import type { CallerLookup } from './lookup/caller-lookup.js';
import type { PhoneIndex } from './phone-index/index-store.js';

export interface EraseDependencies {
  lookup: CallerLookup;
  cache: LookupCache;
  index: PhoneIndex;
  /** Name of this replica in the reply. */
  instanceId: string;
  logger: Logger;
  /** How long to wait for the erased index entries to reach this replica's mirror, in ms. */
  settleMs?: number;
}

/**
 * `rpc.crm.erase`: drops a number from this replica's lookup cache. `cti erase` has already
 * removed the number's phone index and call log entries from their buckets, and the replica's
 * in-memory mirrors follow the buckets through their watches. The reply reports whether the index
 * mirror has caught up, so the operator learns of a replica that still links the number.
 */
export function eraseRequestHandler(deps: EraseDependencies) {
  return async (request: CrmEraseRequest): Promise<CrmEraseReply> => {
    const target = deps.lookup.normalize(request.number);
    if (target === undefined) {
      throw new CrmSyncError(CrmSyncErrorCode.ERASE_NUMBER_INVALID, 'the number to erase is not a phone number that can be normalised to E.164');
    }
    const cacheEntries = deps.cache.forget(target.digits, target.nationalNumber);

    // The bucket deletes travel on the watch and the request on another subscription, so the
    // watch gets a moment to deliver them before the reply reports what the mirror contains.
    const deadline = Date.now() + (deps.settleMs ?? 2000);
    let indexRecords = deps.index.lookup(target).length;
    while (indexRecords > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      indexRecords = deps.index.lookup(target).length;
    }

    const fields = { number: target.e164, cacheEntries, indexRecords, requestedBy: request.requestedBy };
    if (indexRecords > 0) {
      deps.logger.warn(fields, 'erased number still in the phone index: SuiteCRM still has it, or a lookup wrote it back; erase it in SuiteCRM first');
    } else {
      deps.logger.info(fields, 'erased number dropped from the caches');
    }
    return { v: 1, instance: deps.instanceId, cacheEntries, indexRecords };
  };
}

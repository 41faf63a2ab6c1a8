import type { Auditor } from '@cti/runtime';

import type { PushGatewaySettings } from '../config.js';
import type { Dialer } from '../dial.js';
import type { SessionHub } from '../hub.js';
import type { AuthDependencies } from './auth.js';
import type { OriginPolicy } from './origin.js';

/** Everything the HTTP routes use, built once in `startGateway`. */
export interface GatewayServices extends AuthDependencies {
  settings: PushGatewaySettings;
  auditor: Auditor;
  hub: SessionHub;
  dialer: Dialer;
  origins: OriginPolicy;
}

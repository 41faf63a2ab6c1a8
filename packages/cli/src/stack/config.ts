import { defineConfig, env } from '@cti/config';

/** Variables of `cti up` itself; the services read theirs from the same environment. */
export const StackConfig = defineConfig('cti up (local stack)', {
  dataDirectory: env.path()('CTI_DATA_DIR', {
    description: 'folder for the local NATS store, generated secrets and logs of `pnpm cti up` (default .data in the repository)',
    optional: true,
  }),
  demoPbxSpeed: env.number({ minimum: 0.1, maximum: 100 })('CTI_DEMO_PBX_SPEED', {
    description: 'speed factor of the demo PBX: 1 plays the recorded calls in real time, 4 four times faster',
    default: 1,
  }),
});

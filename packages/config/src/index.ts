export { env, splitSecretLines, type ConfigField } from './fields.js';
export {
  ConfigError,
  ConfigErrorCode,
  configFingerprint,
  defineConfig,
  loadConfig,
  type ConfigFields,
  type ConfigOf,
  type ConfigSpec,
} from './load.js';
export { loggingFields, natsAuthRule, natsFields, phoneHashKeyRule } from './common.js';
export { renderEnvExample } from './env-example.js';

export { ComposeConfig } from './compose-settings.js';
export {
  generatedAccounts,
  NATS_AUTHORIZATION_PATH,
  NATS_SERVER_CONFIG_PATH,
  permissionsVariable,
  renderNatsAccounts,
  renderNatsAuthorization,
  withGeneratedAccounts,
} from './nats-config.js';
export {
  bucketStream,
  cliPermissions,
  DeployedServices,
  NATS_ACCOUNT,
  natsUsers,
  passwordVariable,
  permissionSubject,
  servicePermissions,
  streamManagementOf,
  type DeployedService,
  type NatsUser,
} from './nats-permissions.js';
export {
  BCRYPT_COST,
  generateSecrets,
  NATS_PASSWORD_HASHES,
  newSecret,
  PLACEHOLDER,
  renderPasswordHashes,
  SECRET_BYTES,
  SecretSpecs,
  type GenerateOptions,
  type SecretConsumer,
  type SecretSpec,
  type SecretStatus,
} from './secrets.js';

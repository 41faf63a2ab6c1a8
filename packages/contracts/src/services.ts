/** The deployable units. The CLI counts as a service because it publishes audit and replay messages. */
export const ServiceNames = ['ami-bridge', 'crm-sync', 'webhook-ingress', 'push-gateway', 'cli'] as const;
export type ServiceName = (typeof ServiceNames)[number];

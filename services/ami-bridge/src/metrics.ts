import { Counter, Gauge, type Registry } from 'prom-client';

/** ami-bridge's own metrics; the bus adds its publish counters. */
export interface BridgeMetrics {
  amiConnected: Gauge;
  amiReconnects: Counter;
  amiLoginRejections: Counter;
  amiEventsParsed: Counter;
  amiFrameFaults: Counter<'code'>;
  callEvents: Counter<'type'>;
  resyncs: Counter<'outcome'>;
  resyncVanishedChannels: Counter;
  originateRequests: Counter<'outcome'>;
  outboxPending: Gauge;
  activeCalls: Gauge;
}

export function createBridgeMetrics(registry: Registry, sources: { activeCalls: () => number; outboxPending: () => number }): BridgeMetrics {
  const registers = [registry];
  return {
    amiConnected: new Gauge({ name: 'cti_ami_connected', help: '1 while logged in to the AMI of the PBX, else 0', registers }),
    amiReconnects: new Counter({ name: 'cti_ami_reconnects_total', help: 'Logins after the first one: each follows a lost AMI connection', registers }),
    amiLoginRejections: new Counter({ name: 'cti_ami_login_rejections_total', help: 'AMI logins the PBX rejected (wrong user or secret, host not permitted)', registers }),
    amiEventsParsed: new Counter({ name: 'cti_ami_events_parsed_total', help: 'AMI events read from the PBX', registers }),
    amiFrameFaults: new Counter({
      name: 'cti_ami_frame_faults_total',
      help: 'AMI messages skipped (over the size limit) or cut short, by error code',
      labelNames: ['code'],
      registers,
    }),
    callEvents: new Counter({ name: 'cti_call_events_total', help: 'Call events produced by the call model, by type', labelNames: ['type'], registers }),
    resyncs: new Counter({ name: 'cti_ami_resyncs_total', help: 'CoreShowChannels resyncs, by outcome (ok, failed)', labelNames: ['outcome'], registers }),
    resyncVanishedChannels: new Counter({
      name: 'cti_ami_resync_vanished_channels_total',
      help: 'Channels a resync found gone: they hung up while the bridge could not see it',
      registers,
    }),
    originateRequests: new Counter({
      name: 'cti_originate_requests_total',
      help: 'Click-to-dial requests, by outcome (accepted, duplicate, or the failure reason)',
      labelNames: ['outcome'],
      registers,
    }),
    outboxPending: new Gauge({
      name: 'cti_call_events_pending',
      help: 'Call events waiting to be stored by JetStream',
      registers,
      collect() {
        this.set(sources.outboxPending());
      },
    }),
    activeCalls: new Gauge({
      name: 'cti_active_calls',
      help: 'Calls in progress that the bridge tracks',
      registers,
      collect() {
        this.set(sources.activeCalls());
      },
    }),
  };
}

import { formatMessage } from '@cti/ami';

// Response texts are the ones Asterisk 22.10.1 sent in the recordings (protocol-*.jsonl).

function response(status: 'Success' | 'Error' | 'Goodbye', actionId: string | undefined, rest: string[]): string {
  return formatMessage(['Response', status, ...(actionId === undefined ? [] : ['ActionID', actionId]), ...rest]);
}

export const responses = {
  loginAccepted: (actionId: string | undefined) => response('Success', actionId, ['Message', 'Authentication accepted']),
  loginFailed: (actionId: string | undefined) => response('Error', actionId, ['Message', 'Authentication failed']),
  challenge: (actionId: string | undefined, challenge: string) => response('Success', actionId, ['Challenge', challenge]),
  pong: (actionId: string | undefined, nowMs: number) => response('Success', actionId, ['Ping', 'Pong', 'Timestamp', (nowMs / 1000).toFixed(6)]),
  goodbye: (actionId: string | undefined) => response('Goodbye', actionId, ['Message', 'Thanks for all the fish.']),
  permissionDenied: (actionId: string | undefined) => response('Error', actionId, ['Message', 'Permission denied']),
  originateQueued: (actionId: string | undefined) => response('Success', actionId, ['Message', 'Originate successfully queued']),
  originateFailed: (actionId: string | undefined) => response('Error', actionId, ['Message', 'Originate failed']),
  channelsFollow: (actionId: string | undefined) => response('Success', actionId, ['EventList', 'start', 'Message', 'Channels will follow']),
  unknownCommand: (actionId: string | undefined) => response('Error', actionId, ['Message', 'Invalid/unknown command']),
  missingHeader: (actionId: string | undefined, header: string) => response('Error', actionId, ['Message', `${header} not specified`]),
  eventsSet: (actionId: string | undefined, on: boolean) => response('Success', actionId, ['Events', on ? 'On' : 'Off']),
  // Not a recorded text: the replay server states that it does not play this action.
  notReplayed: (actionId: string | undefined, action: string) =>
    response('Error', actionId, ['Message', `${action} is not supported by the AMI replay server`]),
  channelsComplete: (actionId: string | undefined, count: number) =>
    formatMessage(['Event', 'CoreShowChannelsComplete', ...(actionId === undefined ? [] : ['ActionID', actionId]), 'EventList', 'Complete', 'ListItems', String(count)]),
  fullyBooted: (uptimeSeconds: number) =>
    formatMessage(['Event', 'FullyBooted', 'Privilege', 'system,all', 'Uptime', String(uptimeSeconds), 'LastReload', String(uptimeSeconds), 'Status', 'Fully Booted']),
};

/**
 * Write classes each action needs, as probed on Asterisk 22.10.1 (any one class is enough).
 * Actions absent here need no class.
 */
export const ACTION_WRITE_CLASSES: Readonly<Record<string, readonly string[]>> = {
  originate: ['originate'],
  redirect: ['call'],
  blindtransfer: ['call'],
  atxfer: ['call'],
  cancelatxfer: ['call'],
  playdtmf: ['call'],
  hangup: ['call', 'system'],
  status: ['call', 'reporting', 'system'],
  coreshowchannels: ['reporting', 'system'],
  corestatus: ['reporting', 'system'],
  getvar: ['call', 'reporting'],
  extensionstate: ['call', 'reporting'],
  extensionstatelist: ['call', 'reporting'],
  devicestatelist: ['call', 'reporting'],
  queueadd: ['agent'],
  queueremove: ['agent'],
  queuepause: ['agent'],
  command: ['command'],
  pjsipshowendpoints: ['system'],
  userevent: ['user'],
};

/** Actions that need no class. An action neither here nor above is unknown to Asterisk. */
export const OPEN_ACTIONS = new Set(['login', 'logoff', 'challenge', 'ping', 'events', 'listcommands', 'waitevent', 'queuestatus', 'queuesummary', 'bridgelist']);

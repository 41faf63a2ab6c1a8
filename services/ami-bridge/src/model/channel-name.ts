import { isSubjectToken } from '@cti/contracts';

/**
 * The party behind a channel, read from its name: an agent's phone (`PJSIP/101-0000000b`, `SIP/101-…`,
 * `IAX2/101-…`), one half of a Local channel pair (`Local/101@from-queue-00000003;1`), or
 * anything else (a trunk such as `PJSIP/pstn-trunk-0000000a`).
 */
export type ChannelParty =
  | { kind: 'phone'; technology: string; extension: string }
  | { kind: 'local'; extension: string | undefined; context: string; pair: string; half: 1 | 2 }
  | { kind: 'external'; technology: string; endpoint: string };

export interface ChannelNaming {
  /**
   * Endpoint names and Local extensions that are agent extensions. A match must also be a
   * valid subject token, since the extension becomes part of the event's subject.
   */
  extensionPattern: RegExp;
  /** Contexts of Local channels that lead to an agent (`Local/101@from-queue`). */
  agentLocalContexts: readonly string[];
}

export const PHONE_TECHNOLOGIES = ['PJSIP', 'SIP', 'IAX2'] as const;

const PHONE_CHANNEL = /^(PJSIP|SIP|IAX2)\/(.+)-([0-9A-Za-z]+)$/;
const LOCAL_CHANNEL = /^Local\/([^@]+)@(.+)-([0-9a-f]+);([12])$/;

function isAgentExtension(value: string, naming: ChannelNaming): boolean {
  return naming.extensionPattern.test(value) && isSubjectToken(value);
}

export function parseChannel(name: string, naming: ChannelNaming): ChannelParty {
  const local = LOCAL_CHANNEL.exec(name);
  if (local !== null) {
    const [, exten, context, suffix, half] = local as unknown as [string, string, string, string, string];
    const isAgent = isAgentExtension(exten, naming) && naming.agentLocalContexts.includes(context);
    return { kind: 'local', extension: isAgent ? exten : undefined, context, pair: `Local/${exten}@${context}-${suffix}`, half: half === '1' ? 1 : 2 };
  }
  const phone = PHONE_CHANNEL.exec(name);
  if (phone !== null) {
    const [, technology, endpoint] = phone as unknown as [string, string, string];
    if (isAgentExtension(endpoint, naming)) {
      return { kind: 'phone', technology, extension: endpoint };
    }
    return { kind: 'external', technology, endpoint };
  }
  const slash = name.indexOf('/');
  return { kind: 'external', technology: slash === -1 ? name : name.slice(0, slash), endpoint: slash === -1 ? '' : name.slice(slash + 1) };
}

/** Returns the agent extension a channel belongs to, if any. */
export function extensionOf(party: ChannelParty): string | undefined {
  return party.kind === 'external' ? undefined : party.extension;
}

import { randomUUID } from 'node:crypto';

// Channel names end in a per-channel hex sequence, and a Local pair shares one: `-0000000b`,
// `-00000003;1`.
const CHANNEL_SUFFIX = /^(.+)-([0-9a-f]{8})(;[12])?$/;
const UNKNOWN = '<unknown>';

/** Exact values to replace, and agent channel prefixes to swap, when an Originate names another agent. */
export interface Substitutions {
  /** Value replaced wherever it is a whole header value, e.g. the recorded agent `101`. */
  values: ReadonlyMap<string, string>;
  /** Recorded agent extension and the one to use in channel names (`PJSIP/101-…`, `Local/101@…`). */
  agent?: { from: string; to: string };
  /** ActionID of the Originate the recording answered, and the client's ActionID. */
  actionId?: string;
}

function isUniqueidKey(key: string): boolean {
  return (key.endsWith('Uniqueid') && !key.endsWith('BridgeUniqueid')) || key.endsWith('Linkedid');
}

function isBridgeKey(key: string): boolean {
  return key.endsWith('BridgeUniqueid') || key === 'BridgeId' || key === 'BridgeID';
}

function isChannelKey(key: string): boolean {
  return key.endsWith('Channel');
}

/**
 * Gives each replay of a recording fresh identifiers, so a call played twice is two calls. It
 * gives new Uniqueid/Linkedid values (the Linkedid still equals the first channel's Uniqueid),
 * new channel sequence numbers (a Local pair keeps one shared number) and new bridge ids. With
 * `fresh` off it returns the recorded values.
 */
export class IdRewriter {
  readonly #fresh: boolean;
  readonly #clock: () => number;
  #uniqueids = new Map<string, string>();
  #suffixes = new Map<string, string>();
  #bridges = new Map<string, string>();
  #epoch = 0;
  // Counters run across replays, so identifiers never repeat while the server lives.
  static #uniqueCounter = 0;
  static #channelCounter = 0;

  constructor(fresh: boolean, clock: () => number = Date.now) {
    this.#fresh = fresh;
    this.#clock = clock;
    this.beginReplay();
  }

  /** Starts a new replay: identifiers seen from now on get new values. */
  beginReplay(): void {
    this.#uniqueids = new Map();
    this.#suffixes = new Map();
    this.#bridges = new Map();
    this.#epoch = Math.floor(this.#clock() / 1000);
  }

  rewrite(fields: readonly string[], substitutions?: Substitutions): string[] {
    const result = fields.slice();
    for (let index = 0; index < result.length; index += 2) {
      const key = result[index] as string;
      let value = result[index + 1] as string;
      if (substitutions !== undefined) {
        value = this.#substitute(key, value, substitutions);
      }
      if (this.#fresh && value !== UNKNOWN && value !== '') {
        if (isUniqueidKey(key)) {
          value = this.#uniqueid(value);
        } else if (isBridgeKey(key)) {
          value = this.#bridge(value);
        } else if (isChannelKey(key)) {
          value = this.#channel(value);
        } else if (key === 'Timestamp') {
          value = (this.#clock() / 1000).toFixed(6);
        }
      }
      result[index + 1] = value;
    }
    return result;
  }

  #substitute(key: string, value: string, substitutions: Substitutions): string {
    if (key === 'ActionID' && substitutions.actionId !== undefined) {
      return substitutions.actionId;
    }
    const replaced = substitutions.values.get(value);
    if (replaced !== undefined) {
      return replaced;
    }
    const agent = substitutions.agent;
    if (agent !== undefined && (isChannelKey(key) || key === 'Interface' || key === 'Device')) {
      for (const technology of ['PJSIP/', 'SIP/', 'IAX2/']) {
        const prefix = `${technology}${agent.from}`;
        if (value === prefix || value.startsWith(`${prefix}-`)) {
          return `${technology}${agent.to}${value.slice(prefix.length)}`;
        }
      }
      if (value.startsWith(`Local/${agent.from}@`)) {
        return `Local/${agent.to}@${value.slice(`Local/${agent.from}@`.length)}`;
      }
    }
    return value;
  }

  #uniqueid(value: string): string {
    let mapped = this.#uniqueids.get(value);
    if (mapped === undefined) {
      IdRewriter.#uniqueCounter += 1;
      mapped = `${this.#epoch}.${IdRewriter.#uniqueCounter}`;
      this.#uniqueids.set(value, mapped);
    }
    return mapped;
  }

  #bridge(value: string): string {
    let mapped = this.#bridges.get(value);
    if (mapped === undefined) {
      mapped = randomUUID();
      this.#bridges.set(value, mapped);
    }
    return mapped;
  }

  #channel(value: string): string {
    const match = CHANNEL_SUFFIX.exec(value);
    if (match === null) {
      return value;
    }
    const [, base, suffix, half] = match as unknown as [string, string, string, string | undefined];
    let mapped = this.#suffixes.get(suffix);
    if (mapped === undefined) {
      IdRewriter.#channelCounter += 1;
      mapped = IdRewriter.#channelCounter.toString(16).padStart(8, '0');
      this.#suffixes.set(suffix, mapped);
    }
    return `${base}-${mapped}${half ?? ''}`;
  }
}

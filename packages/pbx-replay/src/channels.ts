// The channel snapshot headers Asterisk puts in every channel event, in its order.
const SNAPSHOT_KEYS = [
  'Channel',
  'ChannelState',
  'ChannelStateDesc',
  'CallerIDNum',
  'CallerIDName',
  'ConnectedLineNum',
  'ConnectedLineName',
  'Language',
  'AccountCode',
  'Context',
  'Exten',
  'Priority',
  'Uniqueid',
  'Linkedid',
] as const;

interface ChannelRow {
  values: Map<string, string>;
  createdAt: number;
  application: string;
  applicationData: string;
  bridgeId: string;
}

function fieldMap(fields: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let index = 0; index < fields.length; index += 2) {
    const key = fields[index] as string;
    if (!map.has(key)) {
      map.set(key, fields[index + 1] as string);
    }
  }
  return map;
}

// Arguments of the Dial() that placed a call. The recorded lab dialled extensions through
// macro-exten-vm, which runs Dial(PJSIP/NNN,15,Tt); other contexts get the bare dial string.
function dialData(values: Map<string, string>): string {
  const technology = /^([A-Za-z0-9]+)\//.exec(values.get('DestChannel') ?? '')?.[1];
  const dialString = values.get('DialString') ?? '';
  const target = technology === undefined || technology === 'Local' ? dialString : `${technology}/${dialString}`;
  return values.get('Context') === 'macro-exten-vm' ? `${target},15,Tt` : target;
}

function duration(milliseconds: number): string {
  const seconds = Math.max(0, Math.floor(milliseconds / 1000));
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`;
}

/**
 * The channels the replayed PBX has up, kept from the events it played, so CoreShowChannels
 * lists what a real Asterisk would list at that moment.
 */
export class ChannelTable {
  readonly #rows = new Map<string, ChannelRow>();
  readonly #clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#rows.size;
  }

  /** Applies one played event to the table. */
  apply(fields: readonly string[]): void {
    const event = fields[0] === 'Event' ? fields[1] : undefined;
    if (event === undefined) {
      return;
    }
    const values = fieldMap(fields);
    const uniqueid = values.get('Uniqueid');

    if (event === 'Hangup') {
      if (uniqueid !== undefined) {
        this.#rows.delete(uniqueid);
      }
      return;
    }
    if (uniqueid !== undefined && values.has('Channel')) {
      this.#update(uniqueid, values, '', event === 'Newchannel');
    }
    const destination = values.get('DestUniqueid');
    if (destination !== undefined && values.has('DestChannel')) {
      this.#update(destination, values, 'Dest', false);
    }

    if (event === 'DialBegin') {
      this.#setApplication(uniqueid, 'Dial', dialData(values));
      this.#setApplication(destination, 'AppDial', '(Outgoing Line)');
    } else if (event === 'AgentCalled') {
      this.#setApplication(destination, 'AppQueue', '(Outgoing Line)');
    } else if (event === 'BridgeEnter' && uniqueid !== undefined) {
      const row = this.#rows.get(uniqueid);
      if (row !== undefined) {
        row.bridgeId = values.get('BridgeUniqueid') ?? '';
      }
    } else if (event === 'BridgeLeave' && uniqueid !== undefined) {
      const row = this.#rows.get(uniqueid);
      if (row !== undefined) {
        row.bridgeId = '';
      }
    }
  }

  /** Returns the CoreShowChannel list items for an ActionID, as Asterisk 22 writes them. */
  listItems(actionId: string | undefined): string[][] {
    const now = this.#clock();
    return [...this.#rows.values()].map((row) => {
      const fields: string[] = ['Event', 'CoreShowChannel'];
      if (actionId !== undefined) {
        fields.push('ActionID', actionId);
      }
      for (const key of SNAPSHOT_KEYS) {
        fields.push(key, row.values.get(key) ?? '');
      }
      fields.push(
        'Application',
        row.application,
        'ApplicationData',
        row.applicationData,
        'Duration',
        duration(now - row.createdAt),
        'BridgeId',
        row.bridgeId,
      );
      return fields;
    });
  }

  clear(): void {
    this.#rows.clear();
  }

  #update(uniqueid: string, values: Map<string, string>, prefix: string, created: boolean): void {
    // Only Newchannel adds a row: a later event about a channel already hung up must not
    // bring it back.
    let row = this.#rows.get(uniqueid);
    if (row === undefined) {
      if (!created) {
        return;
      }
      row = { values: new Map(), createdAt: this.#clock(), application: '', applicationData: '', bridgeId: '' };
      this.#rows.set(uniqueid, row);
    }
    for (const key of SNAPSHOT_KEYS) {
      const value = values.get(`${prefix}${key}`);
      if (value !== undefined) {
        row.values.set(key, value);
      }
    }
  }

  #setApplication(uniqueid: string | undefined, application: string, data: string): void {
    const row = uniqueid === undefined ? undefined : this.#rows.get(uniqueid);
    if (row !== undefined) {
      row.application = application;
      row.applicationData = data;
    }
  }
}

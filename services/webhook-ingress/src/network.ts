import { BlockList, isIP } from 'node:net';

/**
 * Parses one allow-list or proxy entry: an IPv4 or IPv6 address, optionally with a `/prefix`.
 * Returns undefined when the entry is neither.
 */
export function parseAddressEntry(entry: string): { address: string; prefix: number | undefined; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, extra] = entry.trim().split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) {
    return undefined;
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  if (prefixText === undefined) {
    return { address, prefix: undefined, family };
  }
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= (version === 4 ? 32 : 128))) {
    return undefined;
  }
  return { address, prefix, family };
}

/** Returns the entries that are not addresses or networks, for the config check. */
export function invalidAddressEntries(entries: readonly string[]): string[] {
  return entries.filter((entry) => parseAddressEntry(entry) === undefined);
}

/**
 * Builds the source check of the webhook routes from the allow-list, or returns undefined when
 * there is none and every source may try (the signature still has to match).
 */
export function createSourceFilter(entries: readonly string[] | undefined): ((ip: string) => boolean) | undefined {
  if (entries === undefined || entries.length === 0) {
    return undefined;
  }
  const list = new BlockList();
  for (const entry of entries) {
    const parsed = parseAddressEntry(entry);
    if (parsed === undefined) {
      throw new TypeError(`invalid address in the allow-list: ${entry}`);
    }
    if (parsed.prefix === undefined) {
      list.addAddress(parsed.address, parsed.family);
    } else {
      list.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }
  return (ip) => {
    // A dual-stack socket reports IPv4 clients as `::ffff:a.b.c.d`.
    const address = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/** Fastify's `trustProxy`: off, on for any proxy, a hop count, or the proxies' addresses. */
export type TrustProxySetting = boolean | number | string[];

/**
 * Parses TRUST_PROXY: `false` (default), `true`, a number of proxy hops, or a comma-separated
 * list of proxy addresses and networks. Returns an error text for anything else.
 */
export function parseTrustProxy(text: string): TrustProxySetting | { error: string } {
  const value = text.trim().toLowerCase();
  if (value === '' || value === 'false') {
    return false;
  }
  if (value === 'true') {
    return true;
  }
  if (/^\d+$/.test(value)) {
    return Number(value);
  }
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const invalid = invalidAddressEntries(entries);
  if (invalid.length > 0) {
    return { error: `expected true, false, a hop count or proxy addresses, got ${invalid.join(', ')}` };
  }
  return entries;
}

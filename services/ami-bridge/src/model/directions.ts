/**
 * Dialplan contexts that decide a call's direction. A pattern is a context name, or a prefix
 * ending in `*` (`from-trunk*` also matches FreePBX's `from-trunk-pjsip-provider`).
 */
export interface DirectionRules {
  /** Contexts where calls from the outside enter: FreePBX uses from-pstn, from-trunk and ext-did. */
  inboundContexts: readonly string[];
  /** Contexts where the PBX's own phones start calls: FreePBX uses from-internal. */
  internalContexts: readonly string[];
}

export const FREEPBX_DIRECTION_RULES: DirectionRules = {
  inboundContexts: ['from-pstn*', 'from-trunk*', 'ext-did*', 'from-did-direct*'],
  internalContexts: ['from-internal*'],
};

export function contextMatches(context: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => (pattern.endsWith('*') ? context.startsWith(pattern.slice(0, -1)) : context === pattern));
}

// Words of PromQL that look like metric names but are operators, modifiers or literals.
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);

/**
 * Returns the metric names a PromQL expression selects: every identifier that is not a function,
 * an aggregation, a keyword, a label name or a literal. Label matchers, ranges, grouping clauses,
 * strings, numbers and durations are removed first, so `sum by (le) (rate(x_bucket{a="b"}[5m]))`
 * yields `x_bucket`.
 */
export function metricNamesInExpression(expression: string): string[] {
  const stripped = expression
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/(?<![A-Za-z_:])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])?/gi, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const rest = stripped.slice((match.index ?? 0) + name.length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(name.toLowerCase())) {
      continue;
    }
    names.add(name);
  }
  return [...names];
}

/** Series names Prometheus derives from a histogram or summary family. */
const SUFFIXES = ['_bucket', '_sum', '_count'];

/**
 * Tells whether a series name belongs to one of the exported families, counting the `_bucket`,
 * `_sum` and `_count` series of histograms and summaries.
 */
export function isExported(name: string, families: ReadonlyMap<string, string>): boolean {
  if (families.has(name)) {
    return true;
  }
  const suffix = SUFFIXES.find((candidate) => name.endsWith(candidate));
  if (suffix === undefined) {
    return false;
  }
  const type = families.get(name.slice(0, -suffix.length));
  return type === 'histogram' || type === 'summary';
}

import { readFileSync } from 'node:fs';

import { parse } from 'yaml';

/** One alert or recording rule with the file's group it belongs to. */
export interface RuleExpression {
  group: string;
  name: string;
  expr: string;
}

interface RuleFile {
  groups?: { name?: string; rules?: { alert?: string; record?: string; expr?: string }[] }[];
}

/** Reads a Prometheus rule file and returns the expression of each rule. */
export function ruleExpressions(path: string): RuleExpression[] {
  const file = parse(readFileSync(path, 'utf8')) as RuleFile;
  return (file.groups ?? []).flatMap((group) =>
    (group.rules ?? []).map((rule) => ({
      group: group.name ?? '',
      name: rule.alert ?? rule.record ?? '',
      expr: String(rule.expr ?? ''),
    })),
  );
}

/** One query of a Grafana dashboard panel. */
export interface PanelQuery {
  panel: string;
  expr: string;
}

interface DashboardPanel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: DashboardPanel[];
}

/** Reads a Grafana dashboard and returns every Prometheus query of its panels, rows included. */
export function dashboardQueries(path: string): PanelQuery[] {
  const dashboard = JSON.parse(readFileSync(path, 'utf8')) as { panels?: DashboardPanel[] };
  const collect = (panels: DashboardPanel[]): PanelQuery[] =>
    panels.flatMap((panel) => [
      ...(panel.targets ?? []).filter((target) => target.expr !== undefined).map((target) => ({ panel: panel.title ?? '', expr: target.expr ?? '' })),
      ...collect(panel.panels ?? []),
    ]);
  return collect(dashboard.panels ?? []);
}

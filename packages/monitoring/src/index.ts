export { dashboardQueries, ruleExpressions, type PanelQuery, type RuleExpression } from './config-files.js';
export { metricFamilies, sampleSum, samples, type Sample } from './exposition.js';
export { isExported, metricNamesInExpression } from './promql.js';

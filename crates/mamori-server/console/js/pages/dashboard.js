// Dashboard: risk trend, people by level, open alerts by severity and department, top
// indicators, data-source health and ingest.

import { h, replace } from '../dom.js';
import { get } from '../api.js';
import { t, has, pick, label, formatDay, formatShortDay, formatTime, formatNumber } from '../i18n.js';
import { pageHeader, card, loading, errorBox, table, emptyState, LEVELS, SEVERITIES } from '../ui.js';
import { stackedColumns, stackedBars, legend } from '../charts.js';

const DAY_MS = 86400000;

function kpi(title, value, testid, options = {}) {
  const body = h('div', { class: ['kpi', options.cls], testid },
    h('span', { class: 'kpi-label' }, title),
    h('span', { class: 'kpi-value', testid: `${testid}-value` }, formatNumber(value)),
    options.note ? h('span', { class: 'kpi-note' }, options.note) : null);
  return options.href ? h('a', { href: options.href, class: 'kpi-link' }, body) : body;
}

function sum(object, keys) {
  return keys.reduce((total, key) => total + (Number(object && object[key]) || 0), 0);
}

export default async function dashboard(page) {
  const body = h('div', { class: 'stack' }, loading());
  page.appendChild(pageHeader(t('dashboard.title'), t('dashboard.subtitle')));
  page.appendChild(body);
  let data;
  try {
    data = await get('/dashboard');
  } catch (error) {
    replace(body, errorBox(error));
    return;
  }
  const levels = data.levels || {};
  const bySeverity = (data.alerts && data.alerts.by_severity) || {};
  const openAlerts = sum(bySeverity, SEVERITIES);
  const ingest = data.ingest || {};

  const kpis = h('div', { class: 'kpis', testid: 'kpis' },
    kpi(t('dashboard.kpi.highRisk'), sum(levels, ['high', 'critical']), 'kpi-high-risk', { cls: 'kpi-danger', note: t('dashboard.kpi.onDay', { day: formatDay(data.latest_day) }), href: '#/alerts?min_severity=high' }),
    kpi(t('dashboard.kpi.scored'), sum(levels, LEVELS), 'kpi-persons', { note: t('dashboard.kpi.onDay', { day: formatDay(data.latest_day) }) }),
    kpi(t('dashboard.kpi.openAlerts'), openAlerts, 'kpi-open-alerts', { href: '#/alerts?status=open' }),
    kpi(t('dashboard.kpi.critical'), bySeverity.critical || 0, 'kpi-critical', { cls: 'kpi-critical', href: '#/alerts?status=open&min_severity=critical' }),
    kpi(t('dashboard.kpi.ingest'), ingest.last_minute || 0, 'kpi-ingest', { note: t('dashboard.kpi.ingestSince', { count: formatNumber(ingest.since_start || 0) }) }));

  // Risk trend: persons per level per day, stacked (the "none" level left out).
  const trend = data.trend || [];
  const trendSeries = ['low', 'medium', 'high', 'critical'].map((level) => ({ cls: `level-${level}`, label: t(`level.${level}`), values: trend.map((d) => d[level] || 0) }));
  const trendChart = trend.length
    ? h('div', null, stackedColumns({
      labels: trend.map((d) => formatShortDay(d.day)),
      series: trendSeries,
      label: t('dashboard.trend'),
      testid: 'chart-trend',
      width: 1060,
      height: 250,
      tooltip: (i) => `${formatDay(trend[i].day)} — ${trendSeries.map((s) => `${s.label} ${s.values[i]}`).join(' / ')}`,
    }), legend(trendSeries))
    : emptyState(t('dashboard.noTrend'));

  // People by level on the latest day.
  const levelRows = LEVELS.slice().reverse();
  const levelsChart = h('div', { class: 'level-list', testid: 'chart-levels' },
    levelRows.map((level) => {
      const count = levels[level] || 0;
      const max = Math.max(1, ...LEVELS.map((l) => levels[l] || 0));
      return h('div', { class: 'level-row' },
        h('span', { class: ['chip', `level-${level}`] }, t(`level.${level}`)),
        h('span', { class: 'meter' }, h('span', { class: ['meter-fill', `fill-${level}`, `w-${Math.round((count / max) * 20) * 5}`] })),
        h('span', { class: 'num', testid: `level-count-${level}` }, formatNumber(count)));
    }));

  // Open alerts by severity and by department.
  const severityRows = SEVERITIES.slice().reverse();
  const severityChart = stackedBars({
    labels: severityRows.map((s) => t(`level.${s}`)),
    series: [{ classes: severityRows.map((s) => `level-${s}`), label: t('dashboard.alerts'), values: severityRows.map((s) => bySeverity[s] || 0) }],
    label: t('dashboard.bySeverity'),
    testid: 'chart-severity',
    width: 330,
    labelWidth: 72,
  });
  const departments = ((data.alerts && data.alerts.by_department) || []).slice().sort((a, b) => sum(b, SEVERITIES) - sum(a, SEVERITIES)).slice(0, 12);
  const deptSeries = SEVERITIES.map((s) => ({ cls: `level-${s}`, label: t(`level.${s}`), values: departments.map((d) => d[s] || 0) }));
  const deptChart = departments.length
    ? h('div', null, stackedBars({ labels: departments.map((d) => (d.small ? t('dashboard.smallDepartments') : (d.department || t('dashboard.noDepartment')))), series: deptSeries, label: t('dashboard.byDepartment'), testid: 'chart-departments', width: 330, labelWidth: 120 }), legend(deptSeries))
    : emptyState(t('dashboard.noAlerts'));

  // Top indicators over the last 30 days.
  const indicators = data.indicators || [];
  const maxIndicator = Math.max(1, ...indicators.map((i) => i.count || 0));
  const indicatorTable = table([
    { label: t('dashboard.indicator'), render: (row) => h('span', { title: row.feature }, has(`feature.${row.feature}`) ? t(`feature.${row.feature}`) : pick(row) || row.feature) },
    { label: t('dashboard.personDays'), cls: 'num', render: (row) => formatNumber(row.count) },
    { label: '', cls: 'meter-cell', render: (row) => h('span', { class: 'meter' }, h('span', { class: ['meter-fill', 'fill-accent', `w-${Math.round(((row.count || 0) / maxIndicator) * 20) * 5}`] })) },
  ], indicators.slice(0, 10), { testid: 'indicators-table', empty: t('dashboard.noIndicators') });

  // Data-source health: last event and count per kind.
  const sources = (data.sources || []).slice().sort((a, b) => String(a.kind).localeCompare(String(b.kind)));
  const now = Date.now();
  const sourceTable = table([
    { label: t('dashboard.sourceKind'), render: (row) => h('span', { title: row.kind }, label('kind.', row.kind)) },
    { label: t('dashboard.lastEvent'), cls: 'nowrap', render: (row) => formatTime(row.last) },
    { label: t('dashboard.events'), cls: 'num', render: (row) => formatNumber(row.events) },
    {
      label: t('dashboard.health'), render: (row) => {
        const age = row.last ? now - new Date(row.last).getTime() : Infinity;
        const state = age <= DAY_MS ? 'ok' : age <= 7 * DAY_MS ? 'late' : 'stale';
        return h('span', { class: ['chip', `health-${state}`], testid: 'source-health' }, t(`dashboard.health.${state}`));
      },
    },
  ], sources, { testid: 'sources-table', empty: t('dashboard.noSources') });

  replace(body,
    kpis,
    card(t('dashboard.trend'), trendChart, { testid: 'card-trend', actions: h('span', { class: 'muted small' }, t('dashboard.trendHint', { days: trend.length })) }),
    h('div', { class: 'grid three' },
      card(t('dashboard.levels'), levelsChart, { testid: 'card-levels' }),
      card(t('dashboard.bySeverity'), openAlerts ? severityChart : emptyState(t('dashboard.noAlerts')), { testid: 'card-severity' }),
      card(t('dashboard.byDepartment'), deptChart, { testid: 'card-departments' })),
    h('div', { class: 'grid two' },
      card(t('dashboard.indicators'), indicatorTable, { testid: 'card-indicators', actions: h('span', { class: 'muted small' }, t('dashboard.last30')) }),
      card(t('dashboard.sources'), sourceTable, { testid: 'card-sources' })));
}

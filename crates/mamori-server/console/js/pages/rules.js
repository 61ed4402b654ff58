// Detection rules: enable or disable them and set their severity (admin), with a back-test
// over the stored history before a rule is switched on. Others see the list read-only.

import { h, replace, select } from '../dom.js';
import { get, post, put, session } from '../api.js';
import { t, pick, label, formatTime, formatNumber, formatDay } from '../i18n.js';
import { pageHeader, card, loading, errorBox, table, levelChip, notify, busy, SEVERITIES } from '../ui.js';

function when(value) {
  if (!value) return '—';
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? formatDay(value) : formatTime(value);
}

export default async function rulesPage(page, ctx) {
  const admin = session.me.role === 'admin';
  const box = h('div', null, loading());
  const panel = h('div', { class: 'backtest-slot' });
  page.appendChild(pageHeader(t('rules.title'), admin ? t('rules.subtitleAdmin') : t('rules.subtitle')));
  page.appendChild(panel);
  page.appendChild(card(null, box));
  let rules;
  try {
    rules = (await get('/rules')).rules || [];
  } catch (error) {
    replace(box, errorBox(error));
    return;
  }

  // Severity '' (or null) is the rule's own level.
  const severityOptions = (rule) => [['', t('rules.ownLevel', { level: label('level.', rule.level) || '—' })], ...SEVERITIES.map((s) => [s, t(`level.${s}`)])];
  const save = (rule, enabled, severity, control) => busy(control, async () => {
    await put(`/rules/${encodeURIComponent(rule.id)}`, { enabled, severity: severity || null });
    notify(t(enabled ? 'rules.enabledNow' : 'rules.disabledNow', { title: pick(rule, 'title', 'title_ja') }), 'success');
    ctx.route();
  });

  /** Runs the back-test and shows it; `then` offers to enable the rule afterwards. */
  const backtest = (rule, button, enableAfter) => busy(button, async () => {
    replace(panel, card(t('rules.backtestOf', { title: pick(rule, 'title', 'title_ja') }), loading(), { testid: 'backtest-panel' }));
    let result;
    try {
      result = await post(`/rules/${encodeURIComponent(rule.id)}/backtest`, {});
    } catch (error) {
      replace(panel, card(t('rules.backtestOf', { title: pick(rule, 'title', 'title_ja') }), errorBox(error), { testid: 'backtest-panel' }));
      return;
    }
    const severity = select({ testid: 'backtest-severity' }, severityOptions(rule), rule.severity || '');
    const enable = h('button', { type: 'button', class: 'button primary', testid: 'backtest-enable', onclick: () => save(rule, true, severity.value, enable) }, t('rules.enableNow'));
    replace(panel, card(t('rules.backtestOf', { title: pick(rule, 'title', 'title_ja') }), h('div', { class: 'stack' },
      h('div', { class: 'kpis small' },
        h('div', { class: 'kpi' }, h('span', { class: 'kpi-label' }, t('rules.hits')), h('span', { class: 'kpi-value', testid: 'backtest-hits' }, formatNumber(result.hits))),
        h('div', { class: 'kpi' }, h('span', { class: 'kpi-label' }, t('rules.persons')), h('span', { class: 'kpi-value', testid: 'backtest-persons' }, formatNumber(result.persons))),
        h('div', { class: 'kpi' }, h('span', { class: 'kpi-label' }, t('rules.first')), h('span', { class: 'kpi-value small-value' }, when(result.first))),
        h('div', { class: 'kpi' }, h('span', { class: 'kpi-label' }, t('rules.last')), h('span', { class: 'kpi-value small-value' }, when(result.last)))),
      h('p', { class: 'muted' }, t('rules.backtestExplain')),
      enableAfter && admin
        ? h('div', { class: 'form-actions' },
          h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('rules.severity')), severity),
          enable,
          h('button', { type: 'button', class: 'button ghost', onclick: () => replace(panel) }, t('common.cancel')))
        : h('div', { class: 'form-actions' }, h('button', { type: 'button', class: 'button ghost', onclick: () => replace(panel) }, t('common.close')))),
    { testid: 'backtest-panel' }));
    panel.scrollIntoView({ block: 'nearest' });
  });

  const enabledCount = rules.filter((r) => r.enabled).length;
  replace(box,
    h('p', { class: 'muted small', testid: 'rules-count' }, t('rules.count', { count: formatNumber(rules.length), enabled: formatNumber(enabledCount) })),
    table([
      { label: t('rules.col.rule'), cls: 'wrap', render: (r) => h('div', null, h('div', { class: 'strong' }, pick(r, 'title', 'title_ja')), h('code', { class: 'small muted' }, r.id)) },
      { label: t('rules.col.level'), cls: 'nowrap', render: (r) => levelChip(r.level) },
      {
        label: t('rules.col.severity'), cls: 'nowrap', render: (r) => (admin
          ? select({ testid: 'rule-severity', 'aria-label': t('rules.severity'), onchange: (e) => save(r, r.enabled, e.target.value, e.target) }, severityOptions(r), r.severity || '')
          : levelChip(r.severity || r.level)),
      },
      { label: t('rules.col.findings'), cls: 'num', render: (r) => formatNumber(r.findings) },
      {
        label: t('rules.col.enabled'), cls: 'nowrap', render: (r) => (admin
          ? h('label', { class: 'switch-field compact' },
            h('input', {
              type: 'checkbox', class: 'switch', checked: r.enabled, testid: 'rule-enabled', 'aria-label': t('rules.enabled'),
              onchange: (e) => {
                if (e.target.checked) {
                  // Switching on goes through the back-test first.
                  e.target.checked = false;
                  backtest(r, e.target, true);
                } else {
                  save(r, false, r.severity, e.target);
                }
              },
            }),
            h('span', { class: 'small' }, r.enabled ? t('rules.on') : t('rules.off')))
          : h('span', { class: ['chip', r.enabled ? 'health-ok' : 'status-dismissed'] }, r.enabled ? t('rules.on') : t('rules.off'))),
      },
      admin ? { label: '', cls: 'nowrap', render: (r) => h('button', { type: 'button', class: 'button secondary small', testid: 'rule-backtest', onclick: (e) => backtest(r, e.target, !r.enabled) }, t('rules.backtest')) } : null,
    ].filter(Boolean), rules, { testid: 'rules-table', rowTestid: 'rule-row', tall: true, empty: t('rules.none'), rowData: (r) => ({ rule: r.id }) }));
}

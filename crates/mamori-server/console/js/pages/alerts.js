// Alert queue: filters, sorting, bulk triage (assign, dismiss with a reason, reopen) and
// escalation to a case.

import { h, replace, select } from '../dom.js';
import { get, post, qs, session } from '../api.js';
import { t, pick, formatTime, formatNumber } from '../i18n.js';
import { pageHeader, card, loading, errorBox, table, levelChip, statusChip, personLink, caseLink, notify, busy, SEVERITIES } from '../ui.js';

const STATUSES = ['open', 'escalated', 'dismissed'];

export function alertTitle(alert) {
  return pick(alert, 'title', 'title_ja');
}

/** The link to a person's timeline around an alert's time. */
export function aroundLink(alert, minutes = 30) {
  const leaves = (alert.events || []).slice(0, 20).join(',');
  return `#/persons/${encodeURIComponent(alert.person)}?around=${encodeURIComponent(alert.time)}&minutes=${minutes}${leaves ? `&leaves=${leaves}` : ''}`;
}

export default async function alertsPage(page, ctx) {
  const q = ctx.query;
  const filters = {
    status: q.has('status') ? q.get('status') : 'open',
    min_severity: q.get('min_severity') || '',
    sort: q.get('sort') || 'time',
    person: q.get('person') || '',
    limit: q.get('limit') || '200',
  };
  const investigator = session.me.role === 'investigator';

  const setFilter = (key, value) => {
    const next = { ...filters, [key]: value };
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v !== '' && !(k === 'sort' && v === 'time') && !(k === 'limit' && v === '200')) params.set(k, v);
    if (next.status === '') params.set('status', '');
    ctx.navigate(`#/alerts?${params.toString()}`);
  };
  const filterBar = h('div', { class: 'filters', testid: 'alert-filters' },
    h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('alerts.filter.status')),
      select({ testid: 'filter-status', onchange: (e) => setFilter('status', e.target.value) },
        [['', t('common.all')], ...STATUSES.map((s) => [s, t(`alert.status.${s}`)])], filters.status)),
    h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('alerts.filter.severity')),
      select({ testid: 'filter-severity', onchange: (e) => setFilter('min_severity', e.target.value) },
        [['', t('common.all')], ...SEVERITIES.map((s) => [s, t('alerts.atLeast', { level: t(`level.${s}`) })])], filters.min_severity)),
    h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('alerts.filter.sort')),
      select({ testid: 'filter-sort', onchange: (e) => setFilter('sort', e.target.value) },
        [['time', t('alerts.sort.time')], ['severity', t('alerts.sort.severity')]], filters.sort)),
    h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('alerts.filter.limit')),
      select({ onchange: (e) => setFilter('limit', e.target.value) }, [['50', '50'], ['200', '200'], ['1000', '1000']], filters.limit)),
    filters.person ? h('span', { class: 'filter-tag' }, t('alerts.filter.person'), ' ', h('span', { class: 'mono' }, filters.person),
      h('button', { type: 'button', class: 'icon-button', 'aria-label': t('common.clear'), onclick: () => setFilter('person', '') }, '×')) : null);

  const listBox = h('div', null, loading());
  page.appendChild(pageHeader(t('alerts.title'), t('alerts.subtitle')));
  page.appendChild(card(null, h('div', { class: 'stack' }, filterBar, listBox)));

  let alerts;
  try {
    alerts = (await get(`/alerts${qs({ ...filters, sort: filters.sort === 'time' ? '' : filters.sort })}`)).alerts || [];
  } catch (error) {
    replace(listBox, errorBox(error));
    return;
  }

  const selected = new Set();
  const checkboxes = new Map();
  const countLabel = h('span', { class: 'selection-count', testid: 'selection-count' });
  const reason = h('input', { type: 'text', placeholder: t('alerts.reasonPlaceholder'), testid: 'dismiss-reason', maxlength: 500 });
  const assignee = h('input', { type: 'text', placeholder: t('alerts.assigneePlaceholder'), testid: 'assignee-input', value: session.me.name, autocapitalize: 'none' });
  const caseTitle = h('input', { type: 'text', placeholder: t('alerts.caseTitlePlaceholder'), testid: 'case-title', maxlength: 200 });
  const buttons = [];
  const button = (text, testid, onclick, cls = 'secondary') => {
    const b = h('button', { type: 'button', class: ['button', cls], testid, onclick: () => onclick(b) }, text);
    buttons.push(b);
    return b;
  };
  const ids = () => [...selected];
  const triage = (b, body, doneKey) => busy(buttons, async () => {
    const answer = await post('/alerts/triage', { alerts: ids(), ...body });
    notify(t(doneKey, { count: answer && answer.updated !== undefined ? answer.updated : ids().length }), 'success');
    ctx.route();
  });
  const actionBar = h('div', { class: 'action-bar', testid: 'action-bar', hidden: true },
    countLabel,
    h('div', { class: 'action-group' },
      assignee,
      button(t('alerts.assign'), 'action-assign', (b) => triage(b, { action: 'assign', assignee: assignee.value.trim() || null }, 'alerts.assigned'))),
    h('div', { class: 'action-group' },
      reason,
      button(t('alerts.dismiss'), 'action-dismiss', (b) => {
        if (!reason.value.trim()) {
          notify(t('alerts.reasonRequired'), 'error');
          reason.focus();
          return undefined;
        }
        return triage(b, { action: 'dismiss', reason: reason.value.trim() }, 'alerts.dismissed');
      }, 'danger-outline')),
    button(t('alerts.reopen'), 'action-reopen', (b) => triage(b, { action: 'reopen' }, 'alerts.reopened')),
    investigator ? h('div', { class: 'action-group' },
      caseTitle,
      button(t('alerts.escalate'), 'action-escalate', () => {
        const chosen = alerts.filter((a) => selected.has(a.id));
        const persons = new Set(chosen.map((a) => a.person));
        if (persons.size > 1) {
          notify(t('alerts.onePerson'), 'error');
          return undefined;
        }
        const title = caseTitle.value.trim() || t('alerts.defaultCaseTitle', { person: chosen[0].person });
        return busy(buttons, async () => {
          const answer = await post('/cases', { title, alerts: ids(), assignee: session.me.name });
          notify(t('alerts.escalated', { id: answer.id }), 'success');
          ctx.navigate(`#/cases/${answer.id}`);
        });
      }, 'primary')) : null);

  const refresh = () => {
    actionBar.hidden = selected.size === 0;
    countLabel.textContent = t('alerts.selected', { count: selected.size });
    allBox.checked = selected.size > 0 && selected.size === alerts.length;
    allBox.indeterminate = selected.size > 0 && selected.size < alerts.length;
  };
  const allBox = h('input', {
    type: 'checkbox', 'aria-label': t('alerts.selectAll'), testid: 'select-all',
    onchange: (e) => {
      selected.clear();
      if (e.target.checked) alerts.forEach((a) => selected.add(a.id));
      checkboxes.forEach((box, id) => { box.checked = selected.has(id); });
      refresh();
    },
  });

  const columns = [
    {
      header: allBox, cls: 'check', render: (a) => {
        const box = h('input', {
          type: 'checkbox', 'aria-label': t('alerts.select', { id: a.id }), testid: 'alert-check',
          onchange: (e) => {
            if (e.target.checked) selected.add(a.id); else selected.delete(a.id);
            refresh();
          },
        });
        checkboxes.set(a.id, box);
        return box;
      },
    },
    { label: t('alerts.col.severity'), cls: 'nowrap', render: (a) => levelChip(a.severity, 'alert-severity') },
    { label: t('alerts.col.time'), cls: 'nowrap', render: (a) => formatTime(a.time) },
    { label: t('alerts.col.person'), cls: 'nowrap', render: (a) => personLink(a.person) },
    {
      label: t('alerts.col.title'), cls: 'wrap', render: (a) => h('div', null,
        h('div', { class: 'alert-title', testid: 'alert-title' }, alertTitle(a)),
        h('div', { class: 'row-links small' },
          h('a', { href: aroundLink(a), testid: 'alert-around' }, t('alerts.around', { minutes: 30 })),
          a.dismiss_reason ? h('span', { class: 'muted' }, t('alerts.reason', { reason: a.dismiss_reason })) : null)),
    },
    { label: t('alerts.col.status'), cls: 'nowrap', render: (a) => statusChip('alert', a.status) },
    { label: t('alerts.col.assignee'), cls: 'nowrap', render: (a) => a.assignee || h('span', { class: 'muted' }, t('alerts.unassigned')) },
    { label: t('alerts.col.case'), cls: 'nowrap', render: (a) => caseLink(a.case_id) },
  ];
  replace(listBox,
    actionBar,
    h('p', { class: 'muted small', testid: 'alert-count' }, t('alerts.count', { count: formatNumber(alerts.length) })),
    table(columns, alerts, { testid: 'alerts-table', rowTestid: 'alert-row', tall: true, empty: t('alerts.none'), rowData: (a) => ({ id: String(a.id), person: a.person }) }));
  refresh();
}

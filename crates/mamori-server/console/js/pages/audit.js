// Audit (auditor): the access log, newest first. Reading it is itself recorded.

import { h, replace, select } from '../dom.js';
import { get, qs } from '../api.js';
import { t, formatTime, formatNumber, has } from '../i18n.js';
import { pageHeader, card, loading, errorBox, table } from '../ui.js';

export default async function auditPage(page, ctx) {
  const limit = ctx.query.get('limit') || '200';
  const filterText = ctx.query.get('q') || '';
  const search = h('input', { type: 'search', value: filterText, testid: 'audit-filter', placeholder: t('audit.filterPlaceholder') });
  const limitSelect = select({ testid: 'audit-limit' }, [['50', '50'], ['200', '200'], ['1000', '1000']], limit);
  const form = h('form', {
    class: 'filters',
    onsubmit: (e) => {
      e.preventDefault();
      ctx.navigate(`#/audit${qs({ limit: limitSelect.value, q: search.value.trim() })}`);
    },
  },
  h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('audit.filter')), search),
  h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('audit.limit')), limitSelect),
  h('button', { type: 'submit', class: 'button secondary' }, t('common.apply')));
  const box = h('div', null, loading());
  page.appendChild(pageHeader(t('audit.title'), t('audit.subtitle')));
  page.appendChild(card(null, h('div', { class: 'stack' }, form, box)));
  try {
    let rows = (await get(`/access-log${qs({ limit })}`)).access || [];
    const needle = filterText.toLowerCase();
    if (needle) rows = rows.filter((r) => `${r.actor} ${r.action} ${r.target}`.toLowerCase().includes(needle));
    replace(box,
      h('p', { class: 'muted small', testid: 'audit-count' }, t('audit.count', { count: formatNumber(rows.length) })),
      table([
        { label: t('audit.col.time'), cls: 'nowrap', render: (r) => formatTime(new Date(Math.floor(Number(r.time_us) / 1000))) },
        { label: t('audit.col.actor'), cls: 'nowrap', render: (r) => r.actor },
        { label: t('audit.col.action'), cls: 'nowrap', render: (r) => (has(`action.${r.action}`)
          ? h('span', null, t(`action.${r.action}`), ' ', h('code', { class: 'small muted' }, r.action))
          : h('code', { class: 'small' }, r.action)) },
        { label: t('audit.col.target'), cls: 'wrap mono small', render: (r) => r.target },
      ], rows, { testid: 'audit-table', rowTestid: 'audit-row', tall: true, empty: t('audit.none') }));
  } catch (error) {
    replace(box, errorBox(error));
  }
}

// Cases: the list, filtered by status.

import { h, replace, select } from '../dom.js';
import { get, qs } from '../api.js';
import { t, formatTime, formatNumber, label } from '../i18n.js';
import { pageHeader, card, loading, errorBox, table, statusChip, personLink } from '../ui.js';

const STATUSES = ['open', 'investigating', 'closed'];

export default async function casesPage(page, ctx) {
  const status = ctx.query.get('status') || '';
  const filter = h('div', { class: 'filters' },
    h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('cases.filter.status')),
      select({ testid: 'cases-status', onchange: (e) => ctx.navigate(`#/cases${e.target.value ? `?status=${e.target.value}` : ''}`) },
        [['', t('common.all')], ...STATUSES.map((s) => [s, t(`case.status.${s}`)])], status)));
  const box = h('div', null, loading());
  page.appendChild(pageHeader(t('cases.title'), t('cases.subtitle')));
  page.appendChild(card(null, h('div', { class: 'stack' }, filter, box)));
  try {
    const cases = (await get(`/cases${qs({ status })}`)).cases || [];
    replace(box,
      h('p', { class: 'muted small' }, t('cases.count', { count: formatNumber(cases.length) })),
      table([
        { label: t('cases.col.id'), cls: 'nowrap num', render: (c) => h('a', { href: `#/cases/${c.id}`, testid: 'case-open' }, `#${c.id}`) },
        { label: t('cases.col.title'), cls: 'wrap', render: (c) => h('a', { href: `#/cases/${c.id}` }, c.title) },
        { label: t('cases.col.person'), cls: 'nowrap', render: (c) => [personLink(c.person), c.revealed ? h('span', { class: 'tag revealed' }, t('case.revealedTag')) : null] },
        { label: t('cases.col.status'), cls: 'nowrap', render: (c) => [statusChip('case', c.status), c.outcome ? h('span', { class: 'muted small' }, ` ${label('case.outcome.', c.outcome)}`) : null] },
        { label: t('cases.col.assignee'), cls: 'nowrap', render: (c) => c.assignee || '—' },
        { label: t('cases.col.legalHold'), cls: 'nowrap', render: (c) => (c.legal_hold ? h('span', { class: 'chip hold' }, t('case.legalHold')) : '—') },
        { label: t('cases.col.updated'), cls: 'nowrap', render: (c) => formatTime(c.updated) },
      ], cases, { testid: 'cases-table', rowTestid: 'case-row', tall: true, empty: t('cases.none') }));
  } catch (error) {
    replace(box, errorBox(error));
  }
}

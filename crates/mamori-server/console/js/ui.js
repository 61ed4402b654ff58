// Shared pieces of the pages: chips, tables, cards, notices, the event table.

import { h, replace } from './dom.js';
import { t, has, label, formatTime, formatBytes, formatNumber } from './i18n.js';

export const LEVELS = ['none', 'low', 'medium', 'high', 'critical'];
export const SEVERITIES = ['low', 'medium', 'high', 'critical'];

/** A coloured chip for a risk level or severity. */
export function levelChip(level, testid) {
  if (level === null || level === undefined || level === '') return h('span', { class: 'muted' }, '—');
  const value = LEVELS.includes(level) ? level : 'none';
  const text = level && has(`level.${level}`) ? t(`level.${level}`) : label('level.', value);
  return h('span', { class: ['chip', `level-${value}`], testid: testid || 'level-chip', dataset: { level: value } }, text);
}

/** A chip for a status (alert, case, approval). */
export function statusChip(kind, status) {
  return h('span', { class: ['chip', 'status', `status-${status}`], testid: `${kind}-status` }, label(`${kind}.status.`, status));
}

export function personLink(person, query) {
  if (!person) return h('span', { class: 'muted' }, '—');
  if (!/^P-/.test(person)) return h('span', { class: 'person revealed-name', testid: 'person-name' }, person);
  return h('a', { href: `#/persons/${encodeURIComponent(person)}${query || ''}`, class: 'person mono', testid: 'person-link' }, person);
}

export function caseLink(id) {
  if (!id) return h('span', { class: 'muted' }, '—');
  return h('a', { href: `#/cases/${id}`, testid: 'case-link' }, t('cases.number', { id }));
}

/** A page heading with optional actions on the right. */
export function pageHeader(title, subtitle, ...actions) {
  return h('div', { class: 'page-header' },
    h('div', null, h('h1', { testid: 'page-title' }, title), subtitle ? h('p', { class: 'subtitle' }, subtitle) : null),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null);
}

export function card(title, body, options = {}) {
  return h('section', { class: ['card', options.class], testid: options.testid },
    title ? h('div', { class: 'card-header' }, h('h2', null, title), options.actions || null) : null,
    h('div', { class: 'card-body' }, body));
}

export function loading() {
  return h('div', { class: 'loading', role: 'status', testid: 'loading' }, h('span', { class: 'spinner' }), t('common.loading'));
}

/** An error box for an API failure, with the server's message. */
export function errorBox(error) {
  const status = error && error.status;
  const key = status === 403 ? 'error.forbidden' : status === 404 ? 'error.notFound' : status === 0 ? 'error.network' : 'error.generic';
  return h('div', { class: 'alert-box error', role: 'alert', testid: 'error' },
    h('strong', null, t(key)),
    error && error.message ? h('span', { class: 'error-detail' }, error.message) : null);
}

export function emptyState(text) {
  return h('p', { class: 'empty', testid: 'empty' }, text || t('common.empty'));
}

/**
 * A table with a sticky header. columns: [{label, render(row) → node|string, cls}].
 */
export function table(columns, rows, options = {}) {
  const headClass = (cls) => (cls || '').split(' ').filter((c) => c === 'num' || c === 'check').join(' ') || null;
  const head = h('thead', null, h('tr', null, columns.map((c) => h('th', { class: headClass(c.cls), scope: 'col' }, c.header || c.label))));
  const body = h('tbody', null);
  addRows(body, columns, rows, options);
  const el = h('div', { class: ['table-wrap', options.tall && 'tall', options.short && 'short'], testid: options.testid },
    h('table', { class: ['data', options.class] }, head, body));
  if (!rows.length && options.empty !== false) {
    body.appendChild(h('tr', { class: 'empty-row' }, h('td', { colspan: columns.length }, options.empty || t('common.empty'))));
  }
  el.tbody = body;
  return el;
}

export function addRows(body, columns, rows, options = {}) {
  for (const row of rows) {
    const tr = h('tr', { testid: options.rowTestid, class: options.rowClass ? options.rowClass(row) : null },
      columns.map((c) => {
        const value = c.render ? c.render(row) : row[c.key];
        return h('td', { class: c.cls }, value === undefined || value === null || value === '' ? '—' : value);
      }));
    if (options.rowData) for (const [k, v] of Object.entries(options.rowData(row))) tr.dataset[k] = v;
    body.appendChild(tr);
  }
}

// Notices: short messages at the top of the page, for the results of actions.
let noticeRegion = null;
export function setNoticeRegion(el) {
  noticeRegion = el;
}

export function notify(text, kind = 'info') {
  if (!noticeRegion) return;
  const item = h('div', { class: ['notice', kind], role: kind === 'error' ? 'alert' : 'status', testid: `notice-${kind}` },
    h('span', null, text),
    h('button', { type: 'button', class: 'icon-button', 'aria-label': t('common.close'), onclick: () => item.remove() }, '×'));
  noticeRegion.appendChild(item);
  setTimeout(() => item.remove(), kind === 'error' ? 12000 : 5000);
}

export function notifyError(error) {
  notify(error && error.message ? `${t('error.generic')}: ${error.message}` : t('error.generic'), 'error');
}

/** A key–value list. */
export function facts(pairs, testid) {
  return h('dl', { class: 'facts', testid }, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v === null || v === undefined || v === '' ? '—' : v)]));
}

/** Runs `action` with `button` disabled meanwhile; errors go to the notices. */
export async function busy(button, action) {
  const buttons = Array.isArray(button) ? button : [button];
  buttons.forEach((b) => { if (b) b.disabled = true; });
  try {
    return await action();
  } catch (error) {
    notifyError(error);
    return undefined;
  } finally {
    buttons.forEach((b) => { if (b) b.disabled = false; });
  }
}

/** Loads data into `target`, showing a spinner first and an error box on failure. */
export async function into(target, load, render) {
  replace(target, loading());
  try {
    const data = await load();
    replace(target, render(data));
  } catch (error) {
    replace(target, errorBox(error));
  }
}

// Events: one row per stored event, in any page that lists events.

function objectText(object) {
  if (!object) return '';
  return object.path || object.name || object.url || object.subject || object.sha256 || '';
}

function destinationText(destination) {
  if (!destination) return '';
  const parts = [];
  if (destination.kind) parts.push(label('destination.', destination.kind));
  const where = destination.domain || destination.name || (destination.recipients ? destination.recipients.join(', ') : '');
  if (where) parts.push(where);
  return parts.join(' · ');
}

export function eventColumns(options = {}) {
  const columns = [
    { label: t('events.time'), cls: 'nowrap', render: (row) => (row.event ? formatTime(row.event.time) : '—') },
    { label: t('events.kind'), cls: 'nowrap', render: (row) => (row.event ? h('span', { class: 'kind', title: row.event.kind }, label('kind.', row.event.kind)) : '—') },
  ];
  if (options.person) {
    columns.push({ label: t('events.person'), cls: 'nowrap', render: (row) => (row.person ? personLink(row.person) : '—') });
  }
  columns.push(
    { label: t('events.actor'), cls: 'nowrap mono small', render: (row) => (row.event && row.event.actor ? [row.event.actor.user, row.event.actor.host ? ` @ ${row.event.actor.host}` : ''].join('') : '') },
    {
      label: t('events.object'), cls: 'wrap', render: (row) => {
        if (row.purged) return h('span', { class: 'muted' }, t('events.purged'));
        const object = row.event && row.event.object;
        if (!object) return '';
        return h('span', null, h('span', { class: 'mono small' }, objectText(object)),
          object.size !== undefined ? h('span', { class: 'muted small' }, ` (${formatBytes(object.size)})`) : null,
          object.labels && object.labels.length ? object.labels.map((l) => h('span', { class: 'tag' }, l)) : null);
      },
    },
    { label: t('events.destination'), cls: 'wrap small', render: (row) => (row.event ? [destinationText(row.event.destination), row.event.destination && row.event.destination.external ? h('span', { class: 'tag external' }, t('events.external')) : null] : '') },
    { label: t('events.outcome'), cls: 'nowrap', render: (row) => (row.event ? h('span', { class: ['outcome', `outcome-${row.event.outcome}`] }, label('outcome.', row.event.outcome)) : '') },
    { label: t('events.leaf'), cls: 'num mono small', render: (row) => String(row.leaf) },
  );
  return columns;
}

/**
 * A paginated event list: `load(after)` returns {events, more, next_after}; the first page
 * is loaded at once, later ones with the “more” button (never everything at once).
 */
export function eventList(load, options = {}) {
  const columns = eventColumns(options);
  const wrap = table(columns, [], { testid: options.testid || 'events-table', tall: true, empty: false, rowTestid: 'event-row' });
  const status = h('div', { class: 'list-footer' });
  const container = h('div', { class: 'event-list' }, wrap, status);
  let count = 0;
  let loadingNow = false;
  async function page(after) {
    if (loadingNow) return;
    loadingNow = true;
    replace(status, loading());
    try {
      // A search may answer an empty page that still has more (it reads for a bounded time):
      // go on a few pages before asking the user.
      let data = await load(after);
      for (let tries = 0; data.events.length === 0 && data.more && tries < 10; tries += 1) {
        data = await load(data.next_after);
      }
      addRows(wrap.tbody, columns, data.events, { rowTestid: 'event-row', rowClass: (row) => (options.highlight && options.highlight.has(row.leaf) ? 'highlight' : null) });
      count += data.events.length;
      const moreButton = data.more
        ? h('button', { type: 'button', class: 'button secondary', testid: 'events-more', onclick: () => page(data.next_after) }, t('events.more'))
        : null;
      replace(status,
        h('span', { class: 'muted', testid: 'events-count' }, count === 0 ? t('events.none') : t('events.shown', { count: formatNumber(count) })),
        moreButton);
    } catch (error) {
      replace(status, errorBox(error));
    } finally {
      loadingNow = false;
    }
  }
  page(undefined);
  return container;
}

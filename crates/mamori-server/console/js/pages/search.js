// Organisation-wide event search: time, kind, destination, label, person; a page at a time.

import { h, select } from '../dom.js';
import { get, qs } from '../api.js';
import { t, label, localInputToIso, isoToLocalInput, formatTime } from '../i18n.js';
import { pageHeader, card, eventList, emptyState } from '../ui.js';
import { EVENT_KINDS } from './person.js';

const FIELDS = ['from', 'to', 'kind', 'destination', 'label', 'person'];

export default async function searchPage(page, ctx) {
  const q = ctx.query;
  const current = Object.fromEntries(FIELDS.map((f) => [f, q.get(f) || '']));
  const fromInput = h('input', { type: 'datetime-local', testid: 'search-from', value: isoToLocalInput(current.from) });
  const toInput = h('input', { type: 'datetime-local', testid: 'search-to', value: isoToLocalInput(current.to) });
  const kind = select({ testid: 'search-kind' }, [['', t('common.all')], ...EVENT_KINDS.map((k) => [k, label('kind.', k)])], current.kind);
  const destination = h('input', { type: 'text', testid: 'search-destination', value: current.destination, placeholder: t('search.destinationPlaceholder') });
  const labelInput = h('input', { type: 'text', testid: 'search-label', value: current.label, placeholder: t('search.labelPlaceholder') });
  const person = h('input', { type: 'text', testid: 'search-person', value: current.person, placeholder: 'P-…', autocapitalize: 'none', spellcheck: 'false', class: 'mono' });
  const form = h('form', {
    class: 'search-form',
    testid: 'search-form',
    onsubmit: (event) => {
      event.preventDefault();
      const params = {
        from: localInputToIso(fromInput.value),
        to: localInputToIso(toInput.value),
        kind: kind.value,
        destination: destination.value.trim(),
        label: labelInput.value.trim(),
        person: person.value.trim(),
        run: '1',
      };
      ctx.navigate(`#/search${qs(params)}`);
    },
  },
  h('div', { class: 'grid three tight' },
    h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('events.from')), fromInput),
    h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('events.to')), toInput),
    h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('events.kind')), kind),
    h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('search.destination')), destination),
    h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('search.label')), labelInput),
    h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('search.person')), person)),
  h('div', { class: 'form-actions' },
    h('button', { type: 'submit', class: 'button primary', testid: 'search-submit' }, t('search.submit')),
    h('a', { href: '#/search', class: 'button ghost' }, t('common.clear'))));

  page.appendChild(pageHeader(t('search.title'), t('search.subtitle')));
  page.appendChild(card(null, form, { testid: 'card-search-form' }));
  if (!q.get('run')) {
    page.appendChild(card(t('search.results'), emptyState(t('search.prompt'))));
    return;
  }
  const summary = FIELDS.filter((f) => current[f]).map((f) => `${t(`search.field.${f}`)}: ${f === 'from' || f === 'to' ? formatTime(current[f]) : f === 'kind' ? label('kind.', current.kind) : current[f]}`).join(' · ');
  const load = (after) => get(`/events${qs({ ...current, after, limit: 100 })}`);
  page.appendChild(card(t('search.results'), h('div', { class: 'stack' },
    summary ? h('p', { class: 'muted small', testid: 'search-summary' }, summary) : null,
    h('p', { class: 'muted small' }, t('search.pseudonymNote')),
    eventList(load, { testid: 'search-results' })), { testid: 'card-search-results' }));
}

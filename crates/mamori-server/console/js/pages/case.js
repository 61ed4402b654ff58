// One case: status and assignee, legal hold, the reveal and export requests (dual control),
// the evidence bundle, alerts, events and notes.

import { h, replace, select } from '../dom.js';
import { get, post, put, patch, session } from '../api.js';
import { t, pick, label, formatTime, formatNumber } from '../i18n.js';
import { pageHeader, card, loading, errorBox, table, levelChip, statusChip, personLink, facts, notify, busy, emptyState, eventColumns } from '../ui.js';
import { alertTitle } from './alerts.js';
import { icon } from '../icons.js';

const STATUSES = ['open', 'investigating', 'closed'];
const OUTCOMES = ['confirmed', 'benign', 'inconclusive'];
const MIN_JUSTIFICATION = 20;

let purposeCache = null;
async function purposes() {
  if (!purposeCache) {
    try {
      purposeCache = (await get('/purposes')).purposes || [];
    } catch {
      purposeCache = null;
      return [];
    }
  }
  return purposeCache;
}

export function purposeLabel(list, id) {
  const found = (list || []).find((p) => p.id === id);
  return found ? pick(found) : id;
}

/** The caller's granted, unexpired request of `kind`, if any. */
/** Who a revealed case is about: the HR name with the id, or the id alone. */
function revealedName(data) {
  const id = data.person || '';
  return data.person_name ? `${data.person_name} (${id})` : id;
}

function activeGrant(approvals, kind) {
  const now = Date.now();
  return approvals.find((a) => a.kind === kind && a.status === 'granted' && a.requester === session.me.name && (!a.expires || new Date(a.expires).getTime() > now));
}

function requestForm(kind, caseId, purposeList, onDone) {
  const purpose = select({ testid: `${kind}-purpose`, required: true }, [['', t('case.choosePurpose')], ...purposeList.map((p) => [p.id, pick(p)])], purposeList.length === 1 ? purposeList[0].id : '');
  const justification = h('textarea', { rows: 3, testid: `${kind}-justification`, maxlength: 2000, placeholder: t('case.justificationPlaceholder') });
  const counter = h('span', { class: 'field-hint' }, t('case.justificationHint', { min: MIN_JUSTIFICATION }));
  justification.addEventListener('input', () => {
    counter.textContent = t('case.justificationCount', { count: justification.value.trim().length, min: MIN_JUSTIFICATION });
  });
  const message = h('div', { class: 'form-message', testid: `${kind}-error`, role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'button primary', testid: `${kind}-submit` }, t(`case.${kind}.submit`));
  return h('form', {
    class: 'stack request-form',
    testid: `${kind}-form`,
    onsubmit: async (event) => {
      event.preventDefault();
      message.textContent = '';
      if (!purpose.value) {
        message.appendChild(h('div', { class: 'alert-box error' }, t('case.purposeRequired')));
        return;
      }
      submit.disabled = true;
      try {
        const answer = await post(`/cases/${caseId}/${kind === 'reveal' ? 'reveals' : 'exports'}`, { purpose: purpose.value, justification: justification.value });
        notify(t(answer.status === 'granted' ? `case.${kind}.grantedNow` : `case.${kind}.requested`), 'success');
        onDone();
      } catch (error) {
        message.appendChild(h('div', { class: 'alert-box error' }, h('strong', null, t('case.requestFailed')), h('span', { class: 'error-detail' }, error.message)));
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('case.purpose')), purpose),
  h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('case.justification')), justification, counter),
  message,
  h('div', { class: 'form-actions' }, submit));
}

function requestPanel(kind, data, purposeList, reload) {
  const mine = data.approvals.filter((a) => a.kind === kind);
  const granted = activeGrant(data.approvals, kind);
  const pending = mine.find((a) => a.status === 'pending' && a.requester === session.me.name);
  const state = granted
    ? h('div', { class: 'alert-box success', testid: `${kind}-state`, dataset: { state: 'granted' } },
      h('strong', null, t(`case.${kind}.granted`)), ' ',
      t('case.until', { time: formatTime(granted.expires) }))
    : pending
      ? h('div', { class: 'alert-box warning', testid: `${kind}-state`, dataset: { state: 'pending' } },
        h('strong', null, t('case.pending')), ' ', t('case.pendingText', { time: formatTime(pending.requested) }))
      : h('div', { class: 'alert-box neutral', testid: `${kind}-state`, dataset: { state: 'none' } }, t(`case.${kind}.none`));
  const download = kind === 'export' && granted
    ? h('a', { class: 'button primary', href: `/api/v1/cases/${data.id}/bundle`, download: `mamori-case-${data.id}-evidence.zip`, testid: 'bundle-download' }, t('case.export.download'))
    : null;
  return h('div', { class: 'stack', testid: `${kind}-panel` },
    h('p', { class: 'muted small' }, t(`case.${kind}.explain`)),
    state,
    download,
    !granted && !pending ? requestForm(kind, data.id, purposeList, reload) : null);
}

function approvalsTable(approvals, purposeList) {
  return table([
    { label: t('approvals.col.kind'), cls: 'nowrap', render: (a) => label('approval.kind.', a.kind) },
    { label: t('approvals.col.purpose'), cls: 'mid', render: (a) => purposeLabel(purposeList, a.purpose) },
    { label: t('approvals.col.justification'), cls: 'wrap', render: (a) => a.justification },
    { label: t('approvals.col.requester'), cls: 'nowrap', render: (a) => [a.requester, h('br'), h('span', { class: 'muted small' }, formatTime(a.requested))] },
    { label: t('approvals.col.status'), cls: 'nowrap', render: (a) => statusChip('approval', a.status) },
    { label: t('approvals.col.decidedBy'), cls: 'nowrap', render: (a) => (a.decided_by ? [a.decided_by, h('br'), h('span', { class: 'muted small' }, formatTime(a.decided))] : '—') },
    { label: t('approvals.col.expires'), cls: 'nowrap', render: (a) => (a.expires ? formatTime(a.expires) : '—') },
  ], approvals, { testid: 'case-approvals', short: true, empty: t('case.noRequests') });
}

export default async function casePage(page, ctx) {
  const caseId = Number(ctx.params[0]);
  const body = h('div', { class: 'stack' }, loading());
  page.appendChild(body);
  let data;
  let purposeList;
  try {
    [data, purposeList] = await Promise.all([get(`/cases/${caseId}`), purposes()]);
  } catch (error) {
    page.insertBefore(pageHeader(t('case.heading', { id: caseId, title: '' })), body);
    replace(body, errorBox(error));
    return;
  }
  data.approvals = data.approvals || [];
  const reload = () => ctx.route();

  page.insertBefore(pageHeader(t('case.heading', { id: data.id, title: data.title }), null,
    statusChip('case', data.status),
    data.legal_hold ? h('span', { class: 'chip hold', testid: 'legal-hold-chip' }, t('case.legalHold')) : null,
    h('a', { href: '#/cases', class: 'button ghost' }, t('case.back'))), body);

  // The reveal banner: the caller sees real names until their grant expires.
  const reveal = activeGrant(data.approvals, 'reveal');
  const banner = data.revealed
    ? h('div', { class: 'reveal-banner', role: 'status', testid: 'reveal-banner' },
      icon('eye', 'reveal-icon'),
      h('div', null,
        h('strong', null, t('case.revealedBanner', { person: revealedName(data) })),
        h('div', { class: 'small' }, reveal
          ? t('case.revealedUntil', { time: formatTime(reveal.expires), purpose: purposeLabel(purposeList, reveal.purpose) })
          : t('case.revealedNoExpiry'))))
    : null;

  // Details and the changes an investigator may make.
  const statusSelect = select({ testid: 'case-status-select' }, STATUSES.map((s) => [s, t(`case.status.${s}`)]), data.status);
  const outcomeSelect = select({ testid: 'case-outcome-select' }, [['', t('case.noOutcome')], ...OUTCOMES.map((o) => [o, t(`case.outcome.${o}`)])], data.outcome || '');
  const assignee = h('input', { type: 'text', testid: 'case-assignee', value: data.assignee || '', autocapitalize: 'none' });
  const syncOutcome = () => {
    outcomeSelect.disabled = statusSelect.value !== 'closed';
    if (statusSelect.value !== 'closed') outcomeSelect.value = '';
  };
  statusSelect.addEventListener('change', syncOutcome);
  syncOutcome();
  const save = h('button', { type: 'submit', class: 'button primary', testid: 'case-save' }, t('common.save'));
  const editForm = h('form', {
    class: 'stack',
    onsubmit: (event) => {
      event.preventDefault();
      const change = {};
      if (statusSelect.value !== data.status || (outcomeSelect.value || null) !== (data.outcome || null)) {
        change.status = statusSelect.value;
        if (statusSelect.value === 'closed') change.outcome = outcomeSelect.value || null;
      }
      if (assignee.value.trim() !== (data.assignee || '')) change.assignee = assignee.value.trim() || null;
      if (!Object.keys(change).length) {
        notify(t('case.nothingChanged'), 'info');
        return;
      }
      busy(save, async () => {
        await patch(`/cases/${data.id}`, change);
        notify(t('case.saved'), 'success');
        reload();
      });
    },
  },
  h('div', { class: 'grid three tight' },
    h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('case.status')), statusSelect),
    h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('case.outcome')), outcomeSelect),
    h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('case.assignee')), assignee)),
  h('div', { class: 'form-actions' }, save));

  const hold = h('input', {
    type: 'checkbox', class: 'switch', checked: data.legal_hold, testid: 'legal-hold-toggle',
    onchange: (e) => busy(e.target, async () => {
      try {
        await put(`/cases/${data.id}/legal-hold`, { hold: e.target.checked });
        notify(t(e.target.checked ? 'case.holdOn' : 'case.holdOff'), 'success');
        reload();
      } catch (error) {
        e.target.checked = !e.target.checked;
        throw error;
      }
    }),
  });

  const details = card(t('case.details'), h('div', { class: 'stack' },
    facts([
      [t('case.person'), [personLink(data.person), data.person_name ? h('span', { testid: 'person-hr-name' }, ` ${data.person_name}`) : null, data.revealed ? h('span', { class: 'tag revealed' }, t('case.revealedTag')) : null]],
      [t('case.created'), formatTime(data.created)],
      [t('case.updated'), formatTime(data.updated)],
      [t('case.outcome'), data.outcome ? label('case.outcome.', data.outcome) : '—'],
    ], 'case-facts'),
    h('label', { class: 'switch-field' }, hold, h('span', null, h('strong', null, t('case.legalHold')), h('span', { class: 'muted small block' }, t('case.legalHoldHint')))),
    editForm), { testid: 'card-case-details' });

  const disclosure = card(t('case.disclosure'), h('div', { class: 'stack' },
    h('div', { class: 'grid two' },
      h('section', { class: 'subcard' }, h('h3', null, t('case.reveal.title')), requestPanel('reveal', data, purposeList, reload)),
      h('section', { class: 'subcard' }, h('h3', null, t('case.export.title')), requestPanel('export', data, purposeList, reload))),
    h('h3', null, t('case.requests')),
    approvalsTable(data.approvals, purposeList)), { testid: 'card-disclosure' });

  const alertsCard = card(t('case.alerts'), table([
    { label: t('alerts.col.severity'), cls: 'nowrap', render: (a) => levelChip(a.severity) },
    { label: t('alerts.col.time'), cls: 'nowrap', render: (a) => formatTime(a.time) },
    { label: t('alerts.col.title'), cls: 'wrap', render: (a) => alertTitle(a) },
    { label: t('alerts.col.status'), cls: 'nowrap', render: (a) => statusChip('alert', a.status) },
  ], data.alerts || [], { testid: 'case-alerts', short: true, empty: t('alerts.none') }), { testid: 'card-case-alerts' });

  const eventsBox = h('div', null, loading());
  const eventsCard = card(t('case.events'), eventsBox, { testid: 'card-case-events' });
  get(`/cases/${data.id}/events`).then((answer) => {
    const rows = answer.events || [];
    replace(eventsBox,
      h('p', { class: 'muted small' }, t('case.eventCount', { count: formatNumber(rows.length) })),
      table(eventColumns(), rows, { testid: 'case-events', rowTestid: 'event-row', tall: true, empty: t('events.none') }));
  }).catch((error) => replace(eventsBox, errorBox(error)));

  const noteText = h('textarea', { rows: 3, testid: 'note-text', maxlength: 10000, placeholder: t('case.notePlaceholder') });
  const noteButton = h('button', { type: 'submit', class: 'button secondary', testid: 'note-submit' }, t('case.addNote'));
  const notesCard = card(t('case.notes'), h('div', { class: 'stack' },
    (data.notes || []).length
      ? h('ol', { class: 'notes', testid: 'notes' }, data.notes.map((n) => h('li', { class: 'note' },
        h('div', { class: 'note-meta' }, h('strong', null, n.author), ' · ', formatTime(n.time)),
        h('p', { class: 'note-text' }, n.text))))
      : emptyState(t('case.noNotes')),
    h('form', {
      class: 'stack',
      onsubmit: (event) => {
        event.preventDefault();
        if (!noteText.value.trim()) return;
        busy(noteButton, async () => {
          await post(`/cases/${data.id}/notes`, { text: noteText.value });
          notify(t('case.noteAdded'), 'success');
          reload();
        });
      },
    }, noteText, h('div', { class: 'form-actions' }, noteButton))), { testid: 'card-notes' });

  replace(body, banner, h('div', { class: 'grid two' }, details, notesCard), disclosure, alertsCard, eventsCard);
}

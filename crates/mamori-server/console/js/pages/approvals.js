// Approvals (approver): reveal and export requests with their purpose and justification;
// grant or deny. The requester can never decide their own request.

import { h, replace, select } from '../dom.js';
import { get, post, qs, session } from '../api.js';
import { t, pick, label, formatTime, formatNumber } from '../i18n.js';
import { pageHeader, card, loading, errorBox, statusChip, notify, busy, emptyState } from '../ui.js';

const STATUSES = ['pending', 'granted', 'denied'];

export default async function approvalsPage(page, ctx) {
  const status = ctx.query.has('status') ? ctx.query.get('status') : 'pending';
  const filter = h('div', { class: 'filters' },
    h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('approvals.filter.status')),
      select({ testid: 'approvals-status', onchange: (e) => ctx.navigate(`#/approvals?status=${e.target.value}`) },
        [['', t('common.all')], ...STATUSES.map((s) => [s, t(`approval.status.${s}`)])], status)));
  const box = h('div', null, loading());
  page.appendChild(pageHeader(t('approvals.title'), t('approvals.subtitle')));
  page.appendChild(card(null, h('div', { class: 'stack' }, filter, box)));
  let approvals;
  let purposes = [];
  try {
    const [answer, purposeAnswer] = await Promise.all([get(`/approvals${qs({ status })}`), get('/purposes').catch(() => ({ purposes: [] }))]);
    approvals = answer.approvals || [];
    purposes = purposeAnswer.purposes || [];
  } catch (error) {
    replace(box, errorBox(error));
    return;
  }
  const purposeText = (id) => {
    const found = purposes.find((p) => p.id === id);
    return found ? pick(found) : id;
  };
  if (!approvals.length) {
    replace(box, emptyState(status === 'pending' ? t('approvals.nonePending') : t('approvals.none')));
    return;
  }
  replace(box,
    h('p', { class: 'muted small', testid: 'approvals-count' }, t('approvals.count', { count: formatNumber(approvals.length) })),
    h('ul', { class: 'request-list', testid: 'approvals-list' }, approvals.map((a) => {
      const own = a.requester === session.me.name;
      const grant = h('button', { type: 'button', class: 'button primary', testid: 'approval-grant', disabled: own || a.status !== 'pending' }, t('approvals.grant'));
      const deny = h('button', { type: 'button', class: 'button danger-outline', testid: 'approval-deny', disabled: own || a.status !== 'pending' }, t('approvals.deny'));
      const decide = (yes) => busy([grant, deny], async () => {
        await post(`/approvals/${a.id}/decision`, { grant: yes });
        notify(t(yes ? 'approvals.granted' : 'approvals.denied', { id: a.id }), 'success');
        ctx.route();
      });
      grant.addEventListener('click', () => decide(true));
      deny.addEventListener('click', () => decide(false));
      return h('li', { class: 'request', testid: 'approval-item', dataset: { id: String(a.id), caseId: String(a.case_id), kind: a.kind } },
        h('div', { class: 'request-head' },
          h('span', { class: ['chip', `kind-${a.kind}`] }, label('approval.kind.', a.kind)),
          h('strong', null, t('approvals.forCase', { id: a.case_id })),
          statusChip('approval', a.status),
          h('span', { class: 'muted small' }, t('approvals.requestedBy', { name: a.requester, time: formatTime(a.requested) }))),
        h('dl', { class: 'facts compact' },
          h('dt', null, t('approvals.col.purpose')), h('dd', { testid: 'approval-purpose' }, purposeText(a.purpose)),
          h('dt', null, t('approvals.col.justification')), h('dd', { class: 'justification', testid: 'approval-justification' }, a.justification),
          a.decided_by ? [h('dt', null, t('approvals.col.decidedBy')), h('dd', null, `${a.decided_by} · ${formatTime(a.decided)}`)] : null,
          a.expires ? [h('dt', null, t('approvals.col.expires')), h('dd', null, formatTime(a.expires))] : null),
        a.status === 'pending'
          ? h('div', { class: 'request-actions' }, grant, deny, own ? h('span', { class: 'muted small' }, t('approvals.own')) : null)
          : null);
    })));
}

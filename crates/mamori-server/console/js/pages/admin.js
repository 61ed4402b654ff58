// Administration: users and roles (adding one shows its one-time password once), the
// settings in force (retention, approvals, sessions, purposes) and the transparency page.

import { h, replace, select } from '../dom.js';
import { get, post } from '../api.js';
import { t, pick, getLang, formatNumber } from '../i18n.js';
import { pageHeader, card, loading, errorBox, table, facts, busy, notify } from '../ui.js';

const ROLES = ['admin', 'analyst', 'investigator', 'approver', 'auditor', 'employee'];

function usersCard(ctx) {
  const box = h('div', null, loading());
  const name = h('input', { type: 'text', required: true, pattern: '[A-Za-z0-9._@\\-]{1,64}', testid: 'user-name', autocapitalize: 'none', spellcheck: 'false' });
  const role = select({ testid: 'user-role-select' }, ROLES.map((r) => [r, t(`role.${r}`)]), 'analyst');
  const add = h('button', { type: 'submit', class: 'button primary', testid: 'user-add' }, t('admin.addUser'));
  const secret = h('div', { testid: 'one-time-slot' });
  const form = h('form', {
    class: 'filters',
    onsubmit: (event) => {
      event.preventDefault();
      busy(add, async () => {
        const answer = await post('/users', { name: name.value.trim(), role: role.value });
        const copy = h('button', {
          type: 'button', class: 'button secondary small',
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(answer.password);
              notify(t('admin.copied'), 'success');
            } catch {
              notify(t('admin.copyFailed'), 'error');
            }
          },
        }, t('admin.copy'));
        replace(secret, h('div', { class: 'alert-box warning one-time', role: 'status', testid: 'one-time-password' },
          h('strong', null, t('admin.oneTimeTitle', { name: answer.name, role: t(`role.${answer.role}`) })),
          h('div', { class: 'secret-row' }, h('code', { class: 'secret', testid: 'one-time-value' }, answer.password), copy),
          h('span', { class: 'small' }, t('admin.oneTimeHint')),
          h('button', { type: 'button', class: 'button ghost small', onclick: () => replace(secret) }, t('admin.oneTimeDone'))));
        name.value = '';
        loadUsers();
      });
    },
  },
  h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('admin.userName')), name),
  h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('admin.role')), role),
  add);
  async function loadUsers() {
    try {
      const users = (await get('/users')).users || [];
      replace(box, table([
        { label: t('admin.col.name'), cls: 'nowrap strong', render: (u) => u.name },
        { label: t('admin.col.role'), cls: 'nowrap', render: (u) => h('span', { class: ['chip', 'role', `role-${u.role}`] }, t(`role.${u.role}`)) },
        {
          label: t('admin.col.state'), cls: 'nowrap', render: (u) => [
            u.must_change_password ? h('span', { class: 'chip status-pending' }, t('admin.oneTime')) : null,
            u.locked ? h('span', { class: 'chip level-critical' }, t('admin.locked')) : null,
            !u.must_change_password && !u.locked ? h('span', { class: 'chip health-ok' }, t('admin.active')) : null,
          ],
        },
      ], users, { testid: 'users-table', rowTestid: 'user-row', short: true, empty: t('admin.noUsers') }));
    } catch (error) {
      replace(box, errorBox(error));
    }
  }
  loadUsers();
  void ctx;
  return card(t('admin.users'), h('div', { class: 'stack' }, h('p', { class: 'muted small' }, t('admin.usersHint')), form, secret, box), { testid: 'card-users' });
}

function settingsCards(settings, purposes) {
  const purposeText = (id) => {
    const found = purposes.find((p) => p.id === id);
    return found ? pick(found) : id;
  };
  const retention = table([
    { label: t('admin.col.what'), cls: 'wrap', render: (r) => pick(r, 'what', 'what_ja') },
    { label: t('admin.col.kinds'), cls: 'wrap small mono', render: (r) => (r.kinds || []).join(', ') },
    { label: t('admin.col.days'), cls: 'num nowrap', render: (r) => (r.retention_days ? t('admin.days', { days: formatNumber(r.retention_days) }) : '—') },
  ], settings.retention || [], { testid: 'retention-table', short: true, empty: t('admin.noRetention') });
  const approvals = settings.approvals || {};
  const sessions = settings.sessions || {};
  return [
    card(t('admin.retention'), h('div', { class: 'stack' },
      settings.declared ? null : h('div', { class: 'alert-box warning' }, t('admin.undeclared')),
      h('p', { class: 'muted small' }, t('admin.retentionHint')),
      retention), { testid: 'card-retention' }),
    h('div', { class: 'grid two' },
      card(t('admin.policy'), facts([
        [t('admin.dualControl'), approvals.dual_control ? t('common.yes') : t('common.no')],
        [t('admin.grantHours'), approvals.hours ? t('admin.hours', { hours: approvals.hours }) : '—'],
        [t('admin.idle'), sessions.idle_minutes ? t('admin.minutes', { minutes: sessions.idle_minutes }) : '—'],
        [t('admin.maxSession'), sessions.max_hours ? t('admin.hours', { hours: sessions.max_hours }) : '—'],
      ], 'policy-facts'), { testid: 'card-policy' }),
      card(t('admin.purposes'), (settings.purposes || []).length
        ? h('ul', { class: 'plain-list', testid: 'purposes' }, settings.purposes.map((id) => h('li', null, purposeText(id), ' ', h('code', { class: 'small muted' }, id))))
        : h('p', { class: 'muted' }, t('admin.noPurposes')), { testid: 'card-purposes' })),
  ];
}

export default async function adminPage(page, ctx) {
  page.appendChild(pageHeader(t('admin.title'), t('admin.subtitle'),
    h('a', { href: `/transparency?lang=${getLang()}`, class: 'button secondary', target: '_blank', rel: 'noopener', testid: 'admin-transparency' }, t('admin.transparency'))));
  page.appendChild(usersCard(ctx));
  const settingsBox = h('div', { class: 'stack' }, loading());
  page.appendChild(settingsBox);
  try {
    const [settings, purposeAnswer] = await Promise.all([get('/settings'), get('/purposes').catch(() => ({ purposes: [] }))]);
    replace(settingsBox, settingsCards(settings, purposeAnswer.purposes || []));
  } catch (error) {
    replace(settingsBox, errorBox(error));
  }
}

// Replacing one's password: required before anything else while it is a one-time password.

import { h } from '../dom.js';
import { api, session } from '../api.js';
import { t } from '../i18n.js';
import { signedIn, homeOf } from '../app.js';
import { notify } from '../ui.js';

const MIN_LENGTH = 12;

export default async function password(page) {
  const forced = session.me && session.me.must_change_password;
  const message = h('div', { class: 'form-message', role: 'alert', testid: 'password-error' });
  const current = h('input', { type: 'password', autocomplete: 'current-password', required: true, testid: 'password-current' });
  const fresh = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: MIN_LENGTH, testid: 'password-new' });
  const again = h('input', { type: 'password', autocomplete: 'new-password', required: true, testid: 'password-again' });
  const submit = h('button', { type: 'submit', class: 'button primary', testid: 'password-submit' }, t('password.submit'));
  const form = h('form', {
    class: 'stack narrow',
    onsubmit: async (event) => {
      event.preventDefault();
      message.textContent = '';
      const fail = (text, detail) => message.appendChild(h('div', { class: 'alert-box error' }, h('strong', null, text), detail ? h('span', { class: 'error-detail' }, detail) : null));
      if (fresh.value.length < MIN_LENGTH) return fail(t('password.tooShort', { min: MIN_LENGTH }));
      if (fresh.value !== again.value) return fail(t('password.mismatch'));
      submit.disabled = true;
      try {
        await api('POST', '/password', { current_password: current.value, new_password: fresh.value }, { noRedirect: true });
        notify(t('password.changed'), 'success');
        await signedIn(homeOf(session.me.role));
      } catch (error) {
        fail(t('password.failed'), error.message);
      } finally {
        submit.disabled = false;
      }
      return undefined;
    },
  },
  h('input', { type: 'text', autocomplete: 'username', value: session.me ? session.me.name : '', hidden: true, readonly: true, tabindex: '-1', 'aria-hidden': 'true' }),
  h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('password.current')), current),
  h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('password.new')), fresh,
    h('span', { class: 'field-hint' }, t('password.hint', { min: MIN_LENGTH }))),
  h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('password.again')), again),
  message,
  h('div', { class: 'form-actions' }, submit));
  page.appendChild(h('div', { class: forced ? 'login-card' : 'card padded narrow-card' },
    h('h1', { testid: 'page-title' }, t('password.title')),
    forced ? h('div', { class: 'alert-box info', testid: 'password-forced' }, t('password.forced')) : null,
    form));
  current.focus();
}

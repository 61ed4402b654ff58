// Sign-in: name and password; the language switch above it applies locally.

import { h } from '../dom.js';
import { api, session } from '../api.js';
import { t } from '../i18n.js';
import { signedIn } from '../app.js';

export default async function login(page, ctx) {
  const message = h('div', { class: 'form-message', role: 'alert', 'aria-live': 'assertive', testid: 'login-error' });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'username', required: true, testid: 'login-name', autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, testid: 'login-password' });
  const submit = h('button', { type: 'submit', class: 'button primary wide', testid: 'login-submit' }, t('login.submit'));
  if (ctx.query.get('expired')) {
    message.appendChild(h('div', { class: 'alert-box info' }, t('login.expired')));
  }
  const form = h('form', {
    class: 'login-form',
    testid: 'login-form',
    onsubmit: async (event) => {
      event.preventDefault();
      message.textContent = '';
      submit.disabled = true;
      try {
        const answer = await api('POST', '/login', { name: name.value.trim(), password: password.value }, { noRedirect: true });
        session.csrf = answer.csrf_token;
        await signedIn(ctx.query.get('next'));
      } catch (error) {
        const key = error.status === 401 ? 'login.failed' : error.status === 429 ? 'login.tooMany' : 'error.generic';
        message.appendChild(h('div', { class: 'alert-box error' }, h('strong', null, t(key)),
          error.status === 401 ? null : h('span', { class: 'error-detail' }, error.message)));
        password.value = '';
        password.focus();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('login.name')), name),
  h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('login.password')), password),
  message,
  submit);
  page.classList.add('login-page');
  page.appendChild(h('div', { class: 'login-card' },
    h('div', { class: 'login-brand' },
      h('span', { class: 'brand-mark large', 'aria-hidden': 'true' }, '守'),
      h('div', null, h('h1', { testid: 'page-title' }, t('app.name')), h('p', { class: 'subtitle' }, t('app.tagline')))),
    h('h2', null, t('login.title')),
    form,
    h('p', { class: 'muted small' }, t('login.help'))));
  name.focus();
}

// The signed-in user's own settings: language, time zone, password.

import { h, select } from '../dom.js';
import { api, session } from '../api.js';
import { t, getLang, setLang, getTimeZone, setTimeZone, storeLang, LANGS } from '../i18n.js';
import { pageHeader, card, facts, busy, notify } from '../ui.js';

const COMMON_ZONES = ['Asia/Tokyo', 'UTC', 'Asia/Seoul', 'Asia/Shanghai', 'Asia/Singapore', 'Asia/Kolkata', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles'];

export default async function account(page, ctx) {
  const me = session.me;
  let zones = COMMON_ZONES;
  try {
    if (Intl.supportedValuesOf) zones = [...new Set([...COMMON_ZONES, ...Intl.supportedValuesOf('timeZone')])];
  } catch {
    /* older browsers: the common zones only */
  }
  const langSelect = select({ testid: 'pref-lang' }, LANGS.map((code) => [code, t(`lang.${code}`)]), getLang());
  const tzSelect = select({ testid: 'pref-tz' }, zones.map((zone) => [zone, zone]), getTimeZone());
  const save = h('button', { type: 'submit', class: 'button primary', testid: 'pref-save' }, t('common.save'));
  const form = h('form', {
    class: 'stack narrow',
    onsubmit: (event) => {
      event.preventDefault();
      busy(save, async () => {
        const saved = await api('PUT', '/me/preferences', { lang: langSelect.value, tz: tzSelect.value });
        me.lang = saved && saved.lang ? saved.lang : langSelect.value;
        me.tz = saved && saved.tz ? saved.tz : tzSelect.value;
        storeLang(me.lang);
        setTimeZone(me.tz);
        await setLang(me.lang);
        notify(t('account.saved'), 'success');
        ctx.route();
      });
    },
  },
  h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('account.language')), langSelect),
  h('label', { class: 'field' }, h('span', { class: 'field-caption' }, t('account.timezone')), tzSelect),
  h('div', { class: 'form-actions' }, save));
  page.appendChild(pageHeader(t('account.title')));
  page.appendChild(h('div', { class: 'grid two' },
    card(t('account.who'), facts([[t('account.name'), me.name], [t('account.role'), t(`role.${me.role}`)]])),
    card(t('account.preferences'), form)));
  page.appendChild(card(t('password.title'), h('p', null, h('a', { href: '#/password', class: 'button secondary', testid: 'account-password' }, t('account.changePassword')))));
}

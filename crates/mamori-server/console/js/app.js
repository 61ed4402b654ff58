// The console: the page shell (header, navigation, footer), the hash router and the start-up
// (who is signed in, which language and time zone).

import { h, replace } from './dom.js';
import { api, loadMe, session, setHandlers } from './api.js';
import { t, setLang, getLang, setTimeZone, getTimeZone, storedLang, storeLang, browserLang, LANGS } from './i18n.js';
import { setNoticeRegion, notify, errorBox } from './ui.js';
import { icon } from './icons.js';

import login from './pages/login.js';
import password from './pages/password.js';
import dashboard from './pages/dashboard.js';
import alerts from './pages/alerts.js';
import person from './pages/person.js';
import cases from './pages/cases.js';
import caseDetail from './pages/case.js';
import approvals from './pages/approvals.js';
import rules from './pages/rules.js';
import search from './pages/search.js';
import audit from './pages/audit.js';
import admin from './pages/admin.js';
import account from './pages/account.js';
import employee from './pages/employee.js';

const ANALYSTS = ['analyst', 'investigator'];

// Navigation items, in order, with the roles that may use them.
const NAV = [
  { id: 'dashboard', href: '#/dashboard', roles: ANALYSTS },
  { id: 'alerts', href: '#/alerts', roles: ANALYSTS },
  { id: 'cases', href: '#/cases', roles: ['investigator'] },
  { id: 'approvals', href: '#/approvals', roles: ['approver'] },
  { id: 'search', href: '#/search', roles: ANALYSTS },
  { id: 'rules', href: '#/rules', roles: ['admin', 'analyst', 'investigator'] },
  { id: 'audit', href: '#/audit', roles: ['auditor'] },
  { id: 'admin', href: '#/admin', roles: ['admin'] },
];

const ROUTES = [
  { pattern: /^\/login$/, page: login, public: true, title: 'login.title' },
  { pattern: /^\/password$/, page: password, any: true, title: 'password.title' },
  { pattern: /^\/account$/, page: account, any: true, title: 'account.title' },
  { pattern: /^\/dashboard$/, page: dashboard, roles: ANALYSTS, nav: 'dashboard', title: 'nav.dashboard' },
  { pattern: /^\/alerts$/, page: alerts, roles: ANALYSTS, nav: 'alerts', title: 'nav.alerts' },
  { pattern: /^\/persons\/([^/]+)$/, page: person, roles: ANALYSTS, nav: 'alerts', title: 'person.title' },
  { pattern: /^\/cases$/, page: cases, roles: ['investigator'], nav: 'cases', title: 'nav.cases' },
  { pattern: /^\/cases\/(\d+)$/, page: caseDetail, roles: ['investigator'], nav: 'cases', title: 'case.title' },
  { pattern: /^\/approvals$/, page: approvals, roles: ['approver'], nav: 'approvals', title: 'nav.approvals' },
  { pattern: /^\/search$/, page: search, roles: ANALYSTS, nav: 'search', title: 'nav.search' },
  { pattern: /^\/rules$/, page: rules, roles: ['admin', 'analyst', 'investigator'], nav: 'rules', title: 'nav.rules' },
  { pattern: /^\/audit$/, page: audit, roles: ['auditor'], nav: 'audit', title: 'nav.audit' },
  { pattern: /^\/admin$/, page: admin, roles: ['admin'], nav: 'admin', title: 'nav.admin' },
  { pattern: /^\/employee$/, page: employee, roles: ['employee'], title: 'employee.title' },
];

/** Where a role starts. */
export function homeOf(role) {
  switch (role) {
    case 'admin': return '#/admin';
    case 'approver': return '#/approvals';
    case 'auditor': return '#/audit';
    case 'employee': return '#/employee';
    default: return '#/dashboard';
  }
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { path: path || '/', query: new URLSearchParams(query) };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

const root = document.getElementById('app');
let renderCount = 0;
// One notice region for the whole life of the page, so a notice survives a navigation.
const notices = h('div', { class: 'notices', 'aria-live': 'polite', testid: 'notices' });
setNoticeRegion(notices);

function langSwitch(onChange) {
  return h('div', { class: 'lang-switch', role: 'group', 'aria-label': t('header.language'), testid: 'lang-switch' },
    LANGS.map((code) => h('button', {
      type: 'button',
      class: ['lang-button', getLang() === code && 'active'],
      'aria-pressed': getLang() === code ? 'true' : 'false',
      lang: code,
      testid: `lang-${code}`,
      onclick: () => onChange(code),
    }, t(`lang.${code}`))));
}

/** Changes the language: saved to the user's preferences when signed in, else in this browser. */
async function changeLang(code) {
  if (code === getLang()) return;
  delete root.dataset.route;
  storeLang(code);
  await setLang(code);
  if (session.me) {
    try {
      const saved = await api('PUT', '/me/preferences', { lang: code });
      session.me.lang = saved && saved.lang ? saved.lang : code;
    } catch (error) {
      notify(`${t('header.langNotSaved')}: ${error.message}`, 'error');
    }
  }
  route();
}

function shell(current) {
  const me = session.me;
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  const items = NAV.filter((item) => item.roles.includes(me.role));
  const nav = h('nav', { class: 'sidenav', 'aria-label': t('nav.label'), testid: 'nav' },
    h('a', { href: homeOf(me.role), class: 'brand' },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '守'),
      h('span', { class: 'brand-text' }, h('strong', null, t('app.name')), h('small', null, t('app.tagline')))),
    h('ul', null, items.map((item) => h('li', null,
      h('a', {
        href: item.href,
        class: ['nav-link', current === item.id && 'active'],
        'aria-current': current === item.id ? 'page' : null,
        testid: `nav-${item.id}`,
      }, icon(item.id, 'nav-icon'), h('span', null, t(`nav.${item.id}`)))))),
    h('div', { class: 'nav-footer' },
      h('a', { href: `/transparency?lang=${getLang()}`, target: '_blank', rel: 'noopener', testid: 'transparency-link' }, t('footer.transparency'))));
  const header = h('header', { class: 'topbar' },
    h('div', { class: 'topbar-left' }),
    h('div', { class: 'topbar-right' },
      h('span', { class: 'tz', testid: 'timezone', title: t('header.timezoneHint') }, icon('clock', 'tz-icon'), h('span', null, getTimeZone())),
      langSwitch(changeLang),
      h('a', { href: '#/account', class: 'user', testid: 'user' },
        h('span', { class: 'user-name' }, me.name),
        h('span', { class: ['chip', 'role', `role-${me.role}`], testid: 'user-role' }, t(`role.${me.role}`))),
      h('button', { type: 'button', class: 'button ghost', testid: 'logout', onclick: logout }, t('header.logout'))));
  const footer = h('footer', { class: 'footer' },
    h('span', null, t('footer.text')),
    h('a', { href: `/transparency?lang=${getLang()}`, target: '_blank', rel: 'noopener' }, t('footer.transparency')));
  replace(root,
    h('a', { href: '#main', class: 'skip-link', onclick: (e) => { e.preventDefault(); main.focus(); } }, t('app.skip')),
    h('div', { class: 'layout' }, nav, h('div', { class: 'content' }, header, notices, main, footer)));
  return main;
}

function bareShell() {
  const main = h('main', { id: 'main', class: 'bare-main', tabindex: '-1' });
  replace(root, h('div', { class: 'bare' },
    h('div', { class: 'bare-top' }, langSwitch(async (code) => {
      delete root.dataset.route;
      storeLang(code);
      await setLang(code);
      route();
    })),
    notices, main,
    h('footer', { class: 'footer bare-footer' },
      h('a', { href: `/transparency?lang=${getLang()}`, target: '_blank', rel: 'noopener', testid: 'transparency-link' }, t('footer.transparency')))));
  return main;
}

async function logout() {
  try {
    await api('POST', '/logout', {}, { noRedirect: true });
  } catch {
    /* the session may already be gone */
  }
  session.me = null;
  session.csrf = null;
  navigate('#/login');
}

/** Renders the page of the current hash. */
export async function route() {
  const { path, query } = parseHash();
  const me = session.me;
  if (path === '/' || path === '') {
    navigate(me ? homeOf(me.role) : '#/login');
    return;
  }
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  if (!me && !(match && match.r.public)) {
    const next = location.hash && !location.hash.startsWith('#/login') ? `?next=${encodeURIComponent(location.hash)}` : '';
    navigate(`#/login${next}`);
    return;
  }
  if (me && me.must_change_password && path !== '/password') {
    navigate('#/password');
    return;
  }
  if (me && path === '/login') {
    navigate(homeOf(me.role));
    return;
  }
  const count = ++renderCount;
  // Tests and tools wait for data-route to equal the hash: the page has been rendered.
  delete root.dataset.route;
  const rendered = () => {
    if (count === renderCount) root.dataset.route = location.hash;
  };
  const main = match && match.r.public ? bareShell() : me && me.must_change_password ? bareShell() : shell(match && match.r.nav);
  const ctx = { params: match ? match.m.slice(1).map(decodeURIComponent) : [], query, me, navigate, route, current: () => count === renderCount };
  if (!match) {
    document.title = `${t('error.notFoundTitle')} — ${t('app.name')}`;
    replace(main, h('div', { class: 'page' }, h('h1', { testid: 'page-title' }, t('error.notFoundTitle')), h('p', null, h('a', { href: me ? homeOf(me.role) : '#/login' }, t('common.home')))));
    rendered();
    return;
  }
  document.title = `${t(match.r.title)} — ${t('app.name')}`;
  if (!match.r.public && !match.r.any && !match.r.roles.includes(me.role)) {
    replace(main, h('div', { class: 'page' }, h('h1', { testid: 'page-title' }, t('error.forbiddenTitle')),
      h('p', null, t('error.forbiddenText')), h('p', null, h('a', { href: homeOf(me.role) }, t('common.home')))));
    rendered();
    return;
  }
  const page = h('div', { class: 'page', testid: `page-${(match.r.nav || path.slice(1)).split('/')[0]}` });
  main.appendChild(page);
  try {
    await match.r.page(page, ctx);
  } catch (error) {
    if (count === renderCount) page.appendChild(errorBox(error));
  }
  rendered();
}

/** After a sign-in or password change: the user's own language and zone, then their home. */
export async function signedIn(next) {
  const me = await loadMe();
  if (!me) {
    navigate('#/login');
    return;
  }
  setTimeZone(me.tz || 'Asia/Tokyo');
  if (me.lang && me.lang !== getLang()) await setLang(me.lang);
  if (me.must_change_password) navigate('#/password');
  else navigate(next && next.startsWith('#/') && !next.startsWith('#/login') ? next : homeOf(me.role));
}

async function boot() {
  setHandlers({
    unauthorised: () => {
      if (!location.hash.startsWith('#/login')) {
        const next = encodeURIComponent(location.hash || '');
        navigate(`#/login?expired=1&next=${next}`);
      }
    },
    mustChangePassword: () => navigate('#/password'),
  });
  let me = null;
  try {
    me = await loadMe();
  } catch {
    me = null;
  }
  const lang = (me && me.lang) || storedLang() || browserLang();
  await setLang(lang);
  setTimeZone((me && me.tz) || 'Asia/Tokyo');
  window.addEventListener('hashchange', route);
  route();
}

boot().catch((error) => {
  replace(root, h('pre', { class: 'fatal' }, String(error && error.stack ? error.stack : error)));
});

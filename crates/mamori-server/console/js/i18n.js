// The message catalogs (i18n/en.json, i18n/ja.json), the current language and time zone, and
// locale-aware formatting of dates, times and numbers.

const catalogs = {};
let lang = 'ja';
let catalog = {};
let tz = 'Asia/Tokyo';

export const LANGS = ['ja', 'en'];
const STORAGE_KEY = 'mamori.lang';

export async function loadCatalog(code) {
  if (!catalogs[code]) {
    const response = await fetch(`/console/i18n/${code}.json`, { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`catalog ${code}: ${response.status}`);
    catalogs[code] = await response.json();
  }
  return catalogs[code];
}

/** Makes `code` the language of the page (loads its catalog first). */
export async function setLang(code) {
  if (!LANGS.includes(code)) code = 'ja';
  catalog = await loadCatalog(code);
  lang = code;
  document.documentElement.lang = code;
  formatters.clear();
}

export function getLang() {
  return lang;
}

export function setTimeZone(zone) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    tz = zone;
  } catch {
    tz = 'Asia/Tokyo';
  }
  formatters.clear();
}

export function getTimeZone() {
  return tz;
}

/** The language saved in this browser for the login page, if any. */
export function storedLang() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(value) ? value : null;
  } catch {
    return null;
  }
}

export function storeLang(code) {
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
}

/** The browser's preference: the first of Japanese or English in navigator.languages, else ja. */
export function browserLang() {
  const list = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ''];
  for (const tag of list) {
    const lower = String(tag).toLowerCase();
    if (lower === 'ja' || lower.startsWith('ja-')) return 'ja';
    if (lower === 'en' || lower.startsWith('en-')) return 'en';
  }
  return 'ja';
}

/** The message `key` in the current language, with {name} placeholders filled from `params`. */
export function t(key, params) {
  let text = catalog[key];
  if (text === undefined) {
    console.warn(`i18n: missing key ${key}`);
    text = key;
  }
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (match, name) => (params[name] === undefined || params[name] === null ? match : String(params[name])));
  }
  return text;
}

/** Whether the catalog has `key` (for values from the API such as event kinds). */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(catalog, key);
}

/** `t(prefix + value)` when the catalog knows it, else the value itself. */
export function label(prefix, value) {
  if (value === null || value === undefined || value === '') return '';
  return has(prefix + value) ? t(prefix + value) : String(value);
}

/** Picks the text of the current language from an API object: {en, ja} or {title, title_ja}. */
export function pick(obj, en = 'en', ja = 'ja') {
  if (!obj) return '';
  if (lang === 'ja' && obj[ja]) return obj[ja];
  return obj[en] ?? obj[ja] ?? '';
}

function locale() {
  return lang === 'ja' ? 'ja-JP' : 'en-GB';
}

const formatters = new Map();
function formatter(kind, options) {
  const key = `${kind}`;
  if (!formatters.has(key)) formatters.set(key, new Intl.DateTimeFormat(locale(), options));
  return formatters.get(key);
}

function toDate(value) {
  if (value === null || value === undefined || value === '') return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** A time (RFC 3339 or Date) in the viewer's zone: 2026/01/05 18:12:00. */
export function formatTime(value) {
  const date = toDate(value);
  if (!date) return '—';
  return formatter('time', {
    timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).format(date);
}

/** A shorter time without seconds. */
export function formatMinute(value) {
  const date = toDate(value);
  if (!date) return '—';
  return formatter('minute', {
    timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).format(date);
}

/** A calendar day as YYYY-MM-DD; days since 1970-01-01 (a number) are converted. */
export function dayString(day) {
  if (typeof day === 'number' && Number.isFinite(day)) return new Date(day * 86400000).toISOString().slice(0, 10);
  return day === null || day === undefined ? '' : String(day);
}

/** A calendar day given as YYYY-MM-DD (no zone: it is already a local day). */
export function formatDay(day) {
  day = dayString(day);
  if (!day) return '—';
  const [y, m, d] = String(day).split('-').map(Number);
  if (!y || !m || !d) return String(day);
  return formatter('day', { timeZone: 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

/** A short day for chart axes: 1/5 or 5 Jan. */
export function formatShortDay(day) {
  day = dayString(day);
  const [y, m, d] = String(day).split('-').map(Number);
  if (!y || !m || !d) return String(day);
  return formatter('shortday', { timeZone: 'UTC', month: 'numeric', day: 'numeric' })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

export function formatNumber(value, digits) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '—';
  const options = digits === undefined ? { maximumFractionDigits: 1 } : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return new Intl.NumberFormat(locale(), options).format(Number(value));
}

/** Bytes as kB / MB / GB. */
export function formatBytes(value) {
  if (value === null || value === undefined) return '';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let n = Number(value);
  let unit = 0;
  while (n >= 1000 && unit < units.length - 1) {
    n /= 1000;
    unit += 1;
  }
  return `${formatNumber(n, unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** The offset of `zone` from UTC at `date`, in milliseconds. */
function zoneOffset(date, zone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(date);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour') % 24, get('minute'), get('second'));
  return asUtc - Math.floor(date.getTime() / 1000) * 1000;
}

/** A datetime-local value (YYYY-MM-DDTHH:MM) read in the viewer's zone, as an RFC 3339 UTC string. */
export function localInputToIso(value) {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(value || '');
  if (!match) return null;
  const [, y, mo, d, hh = '00', mi = '00'] = match;
  const naive = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(hh), Number(mi));
  let guess = naive - zoneOffset(new Date(naive), tz);
  guess = naive - zoneOffset(new Date(guess), tz);
  return new Date(guess).toISOString().replace('.000Z', 'Z');
}

/** An RFC 3339 time as a datetime-local value in the viewer's zone. */
export function isoToLocalInput(value) {
  const date = toDate(value);
  if (!date) return '';
  const local = new Date(date.getTime() + zoneOffset(date, tz));
  return local.toISOString().slice(0, 16);
}

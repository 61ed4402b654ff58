// A person (under a pseudonym): risk over time with its explanation, the features behind it
// compared with the person's usual values and their peers, their alerts and their activity.

import { h, replace, select } from '../dom.js';
import { get, qs } from '../api.js';
import { t, pick, label, dayString, formatDay, formatShortDay, formatTime, formatNumber, localInputToIso, isoToLocalInput } from '../i18n.js';
import { pageHeader, card, loading, errorBox, table, levelChip, statusChip, caseLink, emptyState, eventList, LEVELS } from '../ui.js';
import { lineChart, legend } from '../charts.js';
import { alertTitle, aroundLink } from './alerts.js';

// The smallest risk of each level (docs/risk.toml [levels]).
export const LEVEL_FLOORS = { low: 10, medium: 25, high: 50, critical: 100 };

export const EVENT_KINDS = [
  'logon', 'logoff', 'logon.failed', 'device.connect', 'device.disconnect', 'file.open', 'file.read', 'file.write',
  'file.create', 'file.copy', 'file.move', 'file.rename', 'file.delete', 'print', 'http.request', 'http.upload',
  'http.download', 'email.send', 'email.receive', 'process.start', 'process.stop', 'clipboard.copy', 'clipboard.paste',
  'account.create', 'account.delete', 'account.enable', 'account.disable', 'account.change', 'account.password_reset',
  'account.group_add', 'account.group_remove', 'account.privilege_change', 'policy.decision', 'log.record',
];

export function riskBands() {
  return [
    { from: LEVEL_FLOORS.low, to: LEVEL_FLOORS.medium, cls: 'level-low', label: t('level.low') },
    { from: LEVEL_FLOORS.medium, to: LEVEL_FLOORS.high, cls: 'level-medium', label: t('level.medium') },
    { from: LEVEL_FLOORS.high, to: LEVEL_FLOORS.critical, cls: 'level-high', label: t('level.high') },
    { from: LEVEL_FLOORS.critical, to: Infinity, cls: 'level-critical', label: t('level.critical') },
  ];
}

/** The windows offered around an alert, in minutes either side. */
const AROUND_CHOICES = [10, 30, 120];

/** A feature's value in its unit: minutes of the day as HH:MM, bytes as MB. */
export function featureValue(feature, value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return '—';
  const v = Number(value);
  if (feature === 'logon_first_minute' || feature === 'logon_last_minute') {
    const minute = Math.max(0, Math.min(1439, Math.round(v)));
    return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
  }
  if (feature === 'email_attachment_bytes') return `${formatNumber(v / 1e6, 1)} MB`;
  return formatNumber(v);
}

function explanation(day) {
  if (!day) return emptyState(t('person.noDay'));
  const details = day.details || {};
  const indicators = details.indicators || [];
  const factors = details.factors || [];
  return h('div', { class: 'stack', testid: 'explanation' },
    h('div', { class: 'explain-head' },
      levelChip(day.level),
      h('span', { class: 'explain-day' }, formatDay(day.day)),
      h('span', { class: 'muted' }, t('person.score', { score: formatNumber(day.score, 1) })),
      details.multiplier && details.multiplier !== 1 ? h('span', { class: 'muted' }, t('person.multiplier', { value: formatNumber(details.multiplier, 2) })) : null,
      details.peer_group ? h('span', { class: 'muted' }, t('person.peerGroup', { group: details.peer_group === '*' ? t('person.organisation') : details.peer_group })) : null),
    indicators.length
      ? h('ul', { class: 'reasons', testid: 'reasons' }, indicators.map((i) => h('li', { class: `reason-${i.type}` },
        h('span', { class: ['tag', `type-${i.type}`] }, label('indicator.type.', i.type)), ' ', pick(i))))
      : h('p', { class: 'muted' }, t('person.noIndicators')),
    factors.length
      ? h('div', null, h('h3', null, t('person.context')), h('ul', { class: 'reasons' }, factors.map((f) => h('li', null, pick(f), f.factor ? h('span', { class: 'muted' }, ` ×${formatNumber(f.factor, 2)}`) : null))))
      : null);
}

function featureTable(day) {
  const rows = ((day && day.details && day.details.indicators) || []).filter((i) => i.type === 'anomaly');
  return table([
    { label: t('person.feature'), render: (r) => h('span', { title: r.feature }, label('feature.', r.feature)) },
    { label: t('person.value'), cls: 'num strong', render: (r) => featureValue(r.feature, r.value) },
    { label: t('person.usual'), cls: 'num', render: (r) => featureValue(r.feature, r.usual) },
    { label: t('person.peer'), cls: 'num', render: (r) => featureValue(r.feature, r.peer) },
    { label: t('person.z'), cls: 'num muted', render: (r) => formatNumber(r.z, 1) },
  ], rows, { testid: 'features-table', empty: t('person.noFeatures') });
}

export default async function personPage(page, ctx) {
  const pseudonym = ctx.params[0];
  const q = ctx.query;
  page.appendChild(pageHeader(t('person.heading', { person: pseudonym }), t('person.subtitle')));
  const riskBox = h('div', null, loading());
  const alertsBox = h('div', null, loading());
  const timelineBox = h('div');
  page.appendChild(riskBox);
  page.appendChild(card(t('person.alerts'), alertsBox, { testid: 'card-person-alerts' }));
  page.appendChild(card(t('person.timeline'), timelineBox, { testid: 'card-timeline' }));

  // Risk over time and the explanation of the selected day.
  get(`/persons/${encodeURIComponent(pseudonym)}/risk`).then((risk) => {
    const days = (risk.days || []).map((d) => ({ ...d, day: dayString(d.day) }));
    if (!days.length) {
      replace(riskBox, card(t('person.risk'), emptyState(t('person.noRisk'))));
      return;
    }
    let selected = days.length - 1;
    for (let i = days.length - 1; i >= 0; i -= 1) {
      if (days[i].level && days[i].level !== 'none') { selected = i; break; }
    }
    const requestedDay = q.get('day');
    if (requestedDay) {
      const found = days.findIndex((d) => d.day === requestedDay);
      if (found >= 0) selected = found;
    }
    const latest = days[days.length - 1];
    const chartBox = h('div');
    const explainBox = h('div');
    const featureBox = h('div');
    const daySelect = select({ testid: 'day-select', onchange: (e) => show(Number(e.target.value)) },
      days.map((d, i) => [String(i), `${formatDay(d.day)} · ${t(`level.${LEVELS.includes(d.level) ? d.level : 'none'}`)} · ${formatNumber(d.score, 1)}`]).reverse(), String(selected));
    function show(index) {
      selected = index;
      daySelect.value = String(index);
      replace(chartBox, lineChart({
        labels: days.map((d) => formatShortDay(d.day)),
        values: days.map((d) => Number(d.score) || 0),
        pointClasses: days.map((d) => `level-${d.level || 'none'}`),
        bands: riskBands(),
        yMax: LEVEL_FLOORS.high * 1.2,
        selected: index,
        onSelect: show,
        tooltip: (i) => `${formatDay(days[i].day)} — ${t(`level.${days[i].level || 'none'}`)} (${formatNumber(days[i].score, 1)})`,
        label: t('person.risk'),
        testid: 'chart-risk',
        width: 1060,
        height: 250,
      }), legend(riskBands()));
      replace(explainBox, explanation(days[index]));
      replace(featureBox, featureTable(days[index]));
    }
    show(selected);
    replace(riskBox,
      h('div', { class: 'facts-row', testid: 'person-facts' },
        h('span', null, t('person.department'), ': ', h('strong', null, risk.department || '—')),
        h('span', null, t('person.latest'), ': ', levelChip(latest.level, 'person-level'), ' ', h('span', { class: 'muted' }, formatDay(latest.day)))),
      card(t('person.risk'), chartBox, { testid: 'card-risk', actions: h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('person.day')), daySelect) }),
      h('div', { class: 'grid two' },
        card(t('person.why'), explainBox, { testid: 'card-explanation' }),
        card(t('person.features'), featureBox, { testid: 'card-features' })));
  }).catch((error) => replace(riskBox, errorBox(error)));

  // The person's alerts, any status.
  get(`/alerts${qs({ person: pseudonym, limit: 200 })}`).then((data) => {
    replace(alertsBox, table([
      { label: t('alerts.col.severity'), cls: 'nowrap', render: (a) => levelChip(a.severity) },
      { label: t('alerts.col.time'), cls: 'nowrap', render: (a) => formatTime(a.time) },
      { label: t('alerts.col.title'), cls: 'wrap', render: (a) => alertTitle(a) },
      { label: t('alerts.col.status'), cls: 'nowrap', render: (a) => statusChip('alert', a.status) },
      { label: t('alerts.col.case'), cls: 'nowrap', render: (a) => caseLink(a.case_id) },
      { label: '', cls: 'nowrap', render: (a) => h('a', { href: aroundLink(a), testid: 'person-alert-around' }, t('alerts.around', { minutes: 30 })) },
    ], data.alerts || [], { testid: 'person-alerts-table', short: true, empty: t('alerts.none') }));
  }).catch((error) => replace(alertsBox, errorBox(error)));

  // The timeline: filters in the hash (kind, from, to, or around ± minutes).
  const around = q.get('around');
  const minutes = Math.max(1, Math.min(24 * 60, Number(q.get('minutes')) || 30));
  let from = q.get('from') || '';
  let to = q.get('to') || '';
  if (around && !Number.isNaN(new Date(around).getTime())) {
    const center = new Date(around).getTime();
    from = new Date(center - minutes * 60000).toISOString();
    to = new Date(center + minutes * 60000).toISOString();
  }
  const kind = q.get('kind') || '';
  const kindSelect = select({ testid: 'timeline-kind' }, [['', t('common.all')], ...EVENT_KINDS.map((k) => [k, label('kind.', k)])], kind);
  const fromInput = h('input', { type: 'datetime-local', testid: 'timeline-from', value: isoToLocalInput(from) });
  const toInput = h('input', { type: 'datetime-local', testid: 'timeline-to', value: isoToLocalInput(to) });
  const apply = (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    if (kindSelect.value) params.set('kind', kindSelect.value);
    const f = localInputToIso(fromInput.value);
    const tt = localInputToIso(toInput.value);
    if (f) params.set('from', f);
    if (tt) params.set('to', tt);
    const text = params.toString();
    ctx.navigate(`#/persons/${encodeURIComponent(pseudonym)}${text ? `?${text}` : ''}`);
  };
  const form = h('form', { class: 'filters', onsubmit: apply, testid: 'timeline-filters' },
    h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('events.kind')), kindSelect),
    h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('events.from')), fromInput),
    h('label', { class: 'field inline' }, h('span', { class: 'field-caption' }, t('events.to')), toInput),
    h('button', { type: 'submit', class: 'button secondary', testid: 'timeline-apply' }, t('common.apply')),
    (from || to || kind) ? h('a', { href: `#/persons/${encodeURIComponent(pseudonym)}`, class: 'button ghost' }, t('common.clear')) : null);
  timelineBox.appendChild(form);
  if (around) {
    // The same moment with a narrower or wider window.
    const windowLink = (n) => {
      const params = new URLSearchParams(q);
      params.set('minutes', String(n));
      return h('a', { href: `#/persons/${encodeURIComponent(pseudonym)}?${params}`, class: n === minutes ? 'button small primary' : 'button small ghost', testid: `around-${n}` },
        t('alerts.around', { minutes: n }));
    };
    timelineBox.appendChild(h('div', { class: 'alert-box info', testid: 'around-banner' },
      t('person.aroundBanner', { minutes, time: formatTime(around) }),
      h('div', { class: 'row-links' }, ...AROUND_CHOICES.map(windowLink))));
  }
  const load = (after) => {
    if (kind) return get(`/events${qs({ person: pseudonym, kind, from, to, after, limit: 100 })}`);
    return get(`/persons/${encodeURIComponent(pseudonym)}/events${qs({ from, to, after, limit: 100 })}`);
  };
  // The alert's own events stand out.
  const highlight = new Set((q.get('leaves') || '').split(',').filter(Boolean).map(Number));
  timelineBox.appendChild(eventList(load, { testid: 'timeline-table', highlight }));
}

// Charts as SVG elements: a line chart with level bands, vertical stacked bars, horizontal
// bars and sparklines. Colours come from CSS classes (app.css), so they follow the theme.

import { s, h } from './dom.js';

const FONT = 11;

function niceMax(value) {
  if (!(value > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * exp >= value) return step * exp;
  }
  return 10 * exp;
}

function ticks(max, count = 4) {
  const out = [];
  for (let i = 0; i <= count; i += 1) out.push((max * i) / count);
  return out;
}

function svgRoot(width, height, attrs) {
  return s('svg', {
    viewBox: `0 0 ${width} ${height}`,
    class: ['chart', attrs.class],
    role: 'img',
    'aria-label': attrs.label || '',
    testid: attrs.testid,
    preserveAspectRatio: 'xMidYMid meet',
  });
}

/** Indexes of about `count` evenly spaced labels among `n`. */
function labelIndexes(n, count) {
  if (n <= count) return [...Array(n).keys()];
  const step = (n - 1) / (count - 1);
  const out = new Set();
  for (let i = 0; i < count; i += 1) out.add(Math.round(i * step));
  return [...out];
}

/**
 * A line chart of one series over categories (days), with horizontal bands (risk levels).
 * options: {labels:[str], values:[num], pointClasses:[cls], bands:[{from, to, cls, label}],
 *           yMax, selected, onSelect(i), tooltip(i), label, testid, width, height}
 */
export function lineChart(options) {
  const width = options.width || 720;
  const height = options.height || 220;
  const pad = { left: 40, right: 12, top: 10, bottom: 26 };
  const n = options.values.length;
  const dataMax = Math.max(0, ...options.values.filter((v) => Number.isFinite(v)));
  const yMax = niceMax(Math.max(options.yMax || 0, dataMax * 1.1));
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const x = (i) => pad.left + (n <= 1 ? plotW / 2 : (i * plotW) / (n - 1));
  const y = (v) => pad.top + plotH - (Math.min(v, yMax) / yMax) * plotH;
  const svg = svgRoot(width, height, { class: 'line-chart', label: options.label, testid: options.testid });

  for (const band of options.bands || []) {
    if (band.from >= yMax) continue;
    const top = y(Math.min(band.to, yMax));
    const bottom = y(band.from);
    svg.appendChild(s('rect', { x: pad.left, y: top, width: plotW, height: Math.max(0, bottom - top), class: ['band', band.cls] },
      s('title', null, band.label || '')));
  }
  for (const value of ticks(yMax)) {
    svg.appendChild(s('line', { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: 'grid' }));
    svg.appendChild(s('text', { x: pad.left - 6, y: y(value) + 4, 'text-anchor': 'end', class: 'axis-label', 'font-size': FONT }, String(Math.round(value))));
  }
  for (const i of labelIndexes(n, 7)) {
    svg.appendChild(s('text', { x: x(i), y: height - 8, 'text-anchor': i === n - 1 && n > 1 ? 'end' : 'middle', class: 'axis-label', 'font-size': FONT }, options.labels[i]));
  }
  if (n > 0) {
    const d = options.values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(Number.isFinite(v) ? v : 0).toFixed(1)}`).join(' ');
    svg.appendChild(s('path', { d, class: 'line', fill: 'none' }));
  }
  options.values.forEach((v, i) => {
    const selected = options.selected === i;
    const point = s('circle', {
      cx: x(i), cy: y(Number.isFinite(v) ? v : 0), r: selected ? 6 : n > 60 ? 2.5 : 3.5,
      class: ['point', options.pointClasses && options.pointClasses[i], selected && 'selected', options.onSelect && 'clickable'],
      testid: 'chart-point',
    }, s('title', null, options.tooltip ? options.tooltip(i) : `${options.labels[i]}: ${v}`));
    if (options.onSelect) point.addEventListener('click', () => options.onSelect(i));
    svg.appendChild(point);
  });
  svg.appendChild(s('line', { x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), class: 'axis' }));
  return svg;
}

/**
 * Vertical stacked bars: one bar per category, one segment per series.
 * options: {labels:[str], series:[{cls, label, values:[num]}], label, testid, width, height, tooltip(i)}
 */
export function stackedColumns(options) {
  const width = options.width || 720;
  const height = options.height || 220;
  const pad = { left: 40, right: 12, top: 10, bottom: 26 };
  const n = options.labels.length;
  const totals = options.labels.map((_, i) => options.series.reduce((sum, serie) => sum + (serie.values[i] || 0), 0));
  const yMax = niceMax(Math.max(1, ...totals));
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const slot = n > 0 ? plotW / n : plotW;
  const barW = Math.max(1, slot * 0.72);
  const y = (v) => pad.top + plotH - (v / yMax) * plotH;
  const svg = svgRoot(width, height, { class: 'stacked-columns', label: options.label, testid: options.testid });
  for (const value of ticks(yMax)) {
    svg.appendChild(s('line', { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: 'grid' }));
    svg.appendChild(s('text', { x: pad.left - 6, y: y(value) + 4, 'text-anchor': 'end', class: 'axis-label', 'font-size': FONT }, String(Math.round(value))));
  }
  for (let i = 0; i < n; i += 1) {
    let base = 0;
    const group = s('g', { class: 'column' }, s('title', null, options.tooltip ? options.tooltip(i) : `${options.labels[i]}: ${totals[i]}`));
    for (const serie of options.series) {
      const v = serie.values[i] || 0;
      if (v > 0) {
        group.appendChild(s('rect', { x: pad.left + i * slot + (slot - barW) / 2, y: y(base + v), width: barW, height: Math.max(0.5, y(base) - y(base + v)), class: ['bar', serie.cls], testid: 'chart-bar' }));
      }
      base += v;
    }
    svg.appendChild(group);
  }
  for (const i of labelIndexes(n, 8)) {
    svg.appendChild(s('text', { x: pad.left + i * slot + slot / 2, y: height - 8, 'text-anchor': 'middle', class: 'axis-label', 'font-size': FONT }, options.labels[i]));
  }
  svg.appendChild(s('line', { x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), class: 'axis' }));
  return svg;
}

/**
 * Horizontal (stacked) bars: one row per category.
 * options: {labels:[str], series:[{cls, label, values}], label, testid, width, labelWidth}
 */
export function stackedBars(options) {
  const width = options.width || 480;
  const rowH = 24;
  const labelW = options.labelWidth || 130;
  const n = options.labels.length;
  const height = Math.max(rowH, n * rowH) + 8;
  const totals = options.labels.map((_, i) => options.series.reduce((sum, serie) => sum + (serie.values[i] || 0), 0));
  const max = Math.max(1, ...totals);
  const plotW = width - labelW - 40;
  const maxChars = Math.max(4, Math.floor(labelW / 7.5));
  const svg = svgRoot(width, height, { class: 'stacked-bars', label: options.label, testid: options.testid });
  for (let i = 0; i < n; i += 1) {
    const top = 4 + i * rowH;
    const text = String(options.labels[i]);
    svg.appendChild(s('text', { x: labelW - 8, y: top + rowH / 2 + 4, 'text-anchor': 'end', class: 'bar-label', 'font-size': 12 },
      text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text, s('title', null, text)));
    let base = 0;
    for (const serie of options.series) {
      const v = serie.values[i] || 0;
      if (v > 0) {
        const w = (v / max) * plotW;
        svg.appendChild(s('rect', { x: labelW + (base / max) * plotW, y: top + 4, width: Math.max(1, w), height: rowH - 8, rx: 2, class: ['bar', serie.classes ? serie.classes[i] : serie.cls], testid: 'chart-bar' },
          s('title', null, `${text} · ${serie.label}: ${v}`)));
      }
      base += v;
    }
    svg.appendChild(s('text', { x: labelW + (base / max) * plotW + 6, y: top + rowH / 2 + 4, class: 'bar-value', 'font-size': 12 }, String(totals[i])));
  }
  return svg;
}

/** A tiny line of values, e.g. events per day. */
export function sparkline(values, options = {}) {
  const width = options.width || 120;
  const height = options.height || 28;
  const max = Math.max(1, ...values);
  const n = values.length;
  const x = (i) => (n <= 1 ? width / 2 : (i * (width - 4)) / (n - 1) + 2);
  const y = (v) => height - 3 - (v / max) * (height - 6);
  const svg = svgRoot(width, height, { class: 'sparkline', label: options.label, testid: options.testid || 'sparkline' });
  if (n > 0) {
    const d = values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg.appendChild(s('path', { d, class: 'spark', fill: 'none' }));
    svg.appendChild(s('circle', { cx: x(n - 1), cy: y(values[n - 1]), r: 2, class: 'spark-end' }));
  }
  return svg;
}

/** A legend for the series of a chart. */
export function legend(series) {
  return h('ul', { class: 'legend' }, series.map((serie) => h('li', null, h('span', { class: ['swatch', serie.cls] }), serie.label)));
}

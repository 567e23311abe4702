/**
 * One participant's connection over time as an SVG chart (no chart library): three stacked
 * panels sharing the time axis (bitrate sent and received, packet loss, round-trip time), a
 * pointer/keyboard read-out, the summary figures, and the raw figures as a table on request.
 */
import type { QualityPoint, RecordQuality } from '../api';
import { h } from '../dom';
import { figure, formatClock, formatDuration } from '../format';
import { layerLabel } from '../tiles';

const NS = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: (Node | string)[]
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

type Figure = 'sendKbps' | 'recvKbps' | 'lossPct' | 'rttMs';

interface Series {
  key: Figure;
  label: string;
  /** CSS class giving the stroke colour (see app.css). */
  cls: string;
}

interface Panel {
  title: string;
  unit: string;
  series: Series[];
  /** The y axis reaches at least this far, so a flat line near zero does not fill the panel. */
  floor: number;
  digits: number;
}

/** The series a chart draws (exported so the legend and tests agree on them). */
export const SERIES: Record<Figure, Series> = {
  sendKbps: { key: 'sendKbps', label: 'Sent', cls: 'q-send' },
  recvKbps: { key: 'recvKbps', label: 'Received', cls: 'q-recv' },
  lossPct: { key: 'lossPct', label: 'Packet loss', cls: 'q-loss' },
  rttMs: { key: 'rttMs', label: 'Round-trip time', cls: 'q-rtt' },
};

const PANELS: Panel[] = [
  {
    title: 'Bitrate (kbps)',
    unit: 'kbps',
    series: [SERIES.sendKbps, SERIES.recvKbps],
    floor: 100,
    digits: 0,
  },
  { title: 'Packet loss (%)', unit: '%', series: [SERIES.lossPct], floor: 1, digits: 1 },
  { title: 'Round-trip time (ms)', unit: 'ms', series: [SERIES.rttMs], floor: 20, digits: 0 },
];

const W = 760;
const LEFT = 52;
const RIGHT = 14;
const TITLE = 22;
const PLOT = 70;
const GAP = 16;
const AXIS = 22;
const PANEL_H = TITLE + PLOT + GAP;
const H = PANELS.length * PANEL_H + AXIS;
const PLOT_W = W - LEFT - RIGHT;

/** The smallest "round" number (1, 2, 2.5 or 5 × 10ⁿ) at or above `n`. */
export function niceCeil(n: number): number {
  if (!(n > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= n) return m * exp;
  return 10 * exp;
}

const TICK_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

/** Time-axis ticks (ms since the epoch) at round intervals, about `count` of them. */
export function timeTicks(start: number, end: number, count = 6): number[] {
  const span = Math.max(1, end - start);
  const step = (TICK_STEPS_S.find((s) => span / (s * 1000) <= count) ?? 7200) * 1000;
  const ticks: number[] = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) ticks.push(t);
  return ticks;
}

/** Samples further apart than this are drawn with a gap (the participant was away). */
function gapThreshold(times: number[]): number {
  const steps = times
    .slice(1)
    .map((t, i) => t - times[i]!)
    .sort((a, b) => a - b);
  const median = steps[Math.floor(steps.length / 2)] ?? 1000;
  return Math.max(3 * median, 2500);
}

/** An SVG path through the points, broken at unknown values and at gaps in time. */
export function linePath(points: { x: number; y: number | null; t: number }[], gap: number) {
  let d = '';
  const dots: { x: number; y: number }[] = [];
  let run: { x: number; y: number }[] = [];
  let lastT = -Infinity;
  const flush = () => {
    if (run.length === 1) dots.push(run[0]!);
    else if (run.length > 1)
      d += run.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join('');
    run = [];
  };
  for (const p of points) {
    if (p.y === null || p.t - lastT > gap) flush();
    if (p.y !== null) run.push({ x: p.x, y: p.y });
    lastT = p.t;
  }
  flush();
  return { d, dots };
}

const plotted = (p: QualityPoint) =>
  p.sendKbps !== null || p.recvKbps !== null || p.lossPct !== null || p.rttMs !== null;

function readout(p: QualityPoint): string {
  const layer = p.videoLayer === null ? '' : ` · receiving ${layerLabel(p.videoLayer)} video`;
  return (
    `${formatClock(p.at)} — sent ${figure(p.sendKbps, 'kbps', 0)} · received ` +
    `${figure(p.recvKbps, 'kbps', 0)} · loss ${figure(p.lossPct, '%', 2)} · RTT ` +
    `${figure(p.rttMs, 'ms')} · jitter ${figure(p.jitterMs, 'ms')}${layer}`
  );
}

function summaryList(q: RecordQuality): HTMLElement {
  const s = q.summary;
  const item = (term: string, value: string) => [h('dt', {}, term), h('dd', {}, value)];
  return h(
    'dl',
    { class: 'quality-summary', testid: 'quality-summary' },
    ...item('Mean RTT', figure(s.rttMeanMs, 'ms')),
    ...item('95th pct. RTT', figure(s.rttP95Ms, 'ms')),
    ...item('Packet loss', figure(s.lossPct, '%', 2)),
    ...item('Mean sent', figure(s.meanSendKbps, 'kbps', 0)),
    ...item('Mean received', figure(s.meanRecvKbps, 'kbps', 0)),
    ...item('Time on Low video', formatDuration(s.lowestLayerSeconds)),
    ...item('Samples', String(s.samples)),
  );
}

function figuresTable(series: QualityPoint[]): HTMLElement {
  const head = [
    'Time',
    'Sent (kbps)',
    'Received (kbps)',
    'Loss (%)',
    'RTT (ms)',
    'Jitter (ms)',
    'Video',
  ];
  const cell = (v: number | null, digits = 1) => h('td', {}, figure(v, '', digits));
  return h(
    'div',
    { class: 'table-wrap quality-table' },
    h(
      'table',
      { class: 'table compact' },
      h('thead', {}, h('tr', {}, ...head.map((t) => h('th', { scope: 'col' }, t)))),
      h(
        'tbody',
        {},
        ...series.map((p) =>
          h(
            'tr',
            {},
            h('td', {}, formatClock(p.at)),
            cell(p.sendKbps, 0),
            cell(p.recvKbps, 0),
            cell(p.lossPct, 2),
            cell(p.rttMs),
            cell(p.jitterMs),
            h('td', {}, p.videoLayer === null ? '—' : layerLabel(p.videoLayer)),
          ),
        ),
      ),
    ),
  );
}

export interface TimeDomain {
  /** ms since the epoch */
  start: number;
  end: number;
}

/** A drawn chart and the time scale it was drawn with. */
export interface QualityChart {
  /** The SVG element (data-points = how many samples it plotted). */
  el: SVGSVGElement;
  /** The samples that have at least one figure to plot, oldest first. */
  series: QualityPoint[];
  /** Time (ms since the epoch) → x in the viewBox, and back. */
  x(t: number): number;
  timeAt(x: number): number;
}

export function qualityChart(q: RecordQuality, domain: TimeDomain): QualityChart {
  const series = q.series.filter(plotted);
  const times = series.map((p) => Date.parse(p.at));
  const start = Math.min(domain.start, times[0] ?? domain.start);
  const end = Math.max(domain.end, times[times.length - 1] ?? domain.end, start + 1000);
  const x = (t: number) => LEFT + ((t - start) / (end - start)) * PLOT_W;
  const timeAt = (vx: number) => start + ((vx - LEFT) / PLOT_W) * (end - start);
  const gap = gapThreshold(times);

  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'quality-chart',
    role: 'img',
    tabindex: 0,
    'data-testid': 'quality-chart',
    'data-points': series.length,
    'data-participant-id': q.participantId,
    'aria-label':
      `Connection of ${q.displayName} over time: ${series.length} samples, mean round-trip ` +
      `${figure(q.summary.rttMeanMs, 'ms')}, loss ${figure(q.summary.lossPct, '%', 2)}, mean ` +
      `sent ${figure(q.summary.meanSendKbps, 'kbps', 0)}.`,
  });

  PANELS.forEach((panel, i) => {
    const top = i * PANEL_H + TITLE;
    const values = series.flatMap((p) =>
      panel.series.map((s) => p[s.key]).filter((v): v is number => v !== null),
    );
    const max = niceCeil(values.reduce((m, v) => Math.max(m, v), panel.floor));
    const y = (v: number) => top + PLOT - (v / max) * PLOT;
    const g = svg('g', { class: 'q-panel' });
    g.append(svg('text', { x: LEFT, y: top - 6, class: 'q-title' }, panel.title));
    for (const v of [0, max / 2, max]) {
      g.append(
        svg('line', { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), class: 'q-grid' }),
        svg(
          'text',
          { x: LEFT - 6, y: y(v) + 4, class: 'q-tick', 'text-anchor': 'end' },
          Number(v.toFixed(panel.digits + 1)).toLocaleString(),
        ),
      );
    }
    for (const s of panel.series) {
      const points = series.map((p, k) => {
        const v = p[s.key];
        return { x: x(times[k]!), t: times[k]!, y: v === null ? null : y(v) };
      });
      const { d, dots } = linePath(points, gap);
      if (d) g.append(svg('path', { d, class: `q-line ${s.cls}`, 'data-series': s.key }));
      for (const dot of dots)
        g.append(svg('circle', { cx: dot.x, cy: dot.y, r: 2.5, class: `q-dot ${s.cls}` }));
    }
    root.append(g);
  });

  // The shared time axis.
  const axisY = PANELS.length * PANEL_H;
  const axis = svg('g', { class: 'q-axis' });
  for (const t of timeTicks(start, end)) {
    axis.append(
      svg('line', { x1: x(t), x2: x(t), y1: TITLE, y2: axisY - GAP, class: 'q-vgrid' }),
      svg(
        'text',
        { x: x(t), y: axisY + 6, class: 'q-tick', 'text-anchor': 'middle' },
        formatClock(t),
      ),
    );
  }
  root.append(axis);

  if (!series.length) {
    root.append(
      svg(
        'text',
        { x: LEFT + PLOT_W / 2, y: H / 2, class: 'q-empty', 'text-anchor': 'middle' },
        'No quality samples were recorded for this participant.',
      ),
    );
  }
  return { el: root, series, x, timeAt };
}

/** Adds a cursor that follows the pointer (or the arrow keys) and reports the nearest sample. */
function attachReadout(chart: QualityChart, out: HTMLElement, hint: string): void {
  const { el, series } = chart;
  if (!series.length) return;
  const times = series.map((p) => Date.parse(p.at));
  const cursor = svg('line', {
    y1: TITLE,
    y2: PANELS.length * PANEL_H - GAP,
    class: 'q-cursor',
    visibility: 'hidden',
  });
  el.append(cursor);
  let index = -1;
  const show = (i: number) => {
    index = Math.max(0, Math.min(series.length - 1, i));
    const px = chart.x(times[index]!).toFixed(1);
    cursor.setAttribute('x1', px);
    cursor.setAttribute('x2', px);
    cursor.setAttribute('visibility', 'visible');
    out.textContent = readout(series[index]!);
  };
  const hide = () => {
    index = -1;
    cursor.setAttribute('visibility', 'hidden');
    out.textContent = hint;
  };
  el.addEventListener('pointermove', (event) => {
    const box = el.getBoundingClientRect();
    if (!box.width) return;
    const t = chart.timeAt(((event.clientX - box.left) / box.width) * W);
    let best = 0;
    for (let i = 1; i < times.length; i++) {
      if (Math.abs(times[i]! - t) < Math.abs(times[best]! - t)) best = i;
    }
    show(best);
  });
  el.addEventListener('pointerleave', hide);
  el.addEventListener('blur', hide);
  el.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowRight') show(index + 1);
    else if (event.key === 'ArrowLeft') show(index < 0 ? series.length - 1 : index - 1);
    else if (event.key === 'Home') show(0);
    else if (event.key === 'End') show(series.length - 1);
    else return;
    event.preventDefault();
  });
}

/** The whole block for one participant: heading, summary, legend, chart, read-out, table. */
export function qualityBlock(q: RecordQuality, domain: TimeDomain): HTMLElement {
  const chart = qualityChart(q, domain);
  const hint = chart.series.length
    ? 'Point at the chart (or focus it and use the arrow keys) to read the figures.'
    : '';
  const out = h('p', { class: 'quality-readout', 'aria-live': 'polite' }, hint);
  attachReadout(chart, out, hint);
  const legend = h(
    'ul',
    { class: 'quality-legend', 'aria-hidden': 'true' },
    ...Object.values(SERIES).map((s) => h('li', { class: s.cls }, s.label)),
  );
  const table = h('details', { class: 'quality-figures' }, h('summary', {}, 'Show the figures'));
  // Built on first opening: an hour-long consult has hundreds of rows.
  table.addEventListener('toggle', () => {
    if (table.open && table.children.length === 1) table.append(figuresTable(q.series));
  });
  return h(
    'article',
    {
      class: 'quality-block',
      testid: 'quality-block',
      dataset: { participantId: q.participantId },
    },
    h('h3', {}, q.displayName),
    summaryList(q),
    legend,
    h('div', { class: 'chart-wrap' }, chart.el),
    out,
    chart.series.length ? table : null,
  );
}

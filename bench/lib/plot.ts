/**
 * The result file's plot, as a standalone SVG: join-time distribution per system (every
 * join a dot, the box spans the interquartile range, the bar is the median) and SFU CPU
 * against load for every fan-out and density series (every probe a dot, passing probes
 * joined by a line).
 */
import type { ResultFile } from './results.js';

export interface JoinSeries {
  name: string;
  ms: number[];
}

export interface CpuSeries {
  name: string;
  points: { n: number; cpu: number; pass: boolean }[];
}

const W = 760;
const PAD = { left: 150, right: 20, top: 34, bottom: 36 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Round tick steps (1, 2, 5 × 10^k) covering 0..max in about `count` ticks. */
export function ticks(max: number, count = 6): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= raw)!;
  const out: number[] = [];
  for (let v = 0; out.length === 0 || out.at(-1)! < max; v += step) {
    out.push(Math.round(v * 1e9) / 1e9);
  }
  return out;
}

function axis(x0: number, y0: number, width: number, max: number, label: string): string[] {
  const parts = [
    `<line x1="${x0}" y1="${y0}" x2="${x0 + width}" y2="${y0}" stroke="#333"/>`,
    `<text x="${x0 + width / 2}" y="${y0 + 30}" text-anchor="middle">${esc(label)}</text>`,
  ];
  for (const t of ticks(max)) {
    const x = x0 + (t / max) * width;
    parts.push(
      `<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + 4}" stroke="#333"/>`,
      `<text x="${x}" y="${y0 + 15}" text-anchor="middle">${t}</text>`,
    );
  }
  return parts;
}

function joinPanel(series: JoinSeries[], top: number): { svg: string[]; height: number } {
  const rowH = 34;
  const height = PAD.top + Math.max(1, series.length) * rowH + PAD.bottom;
  const plotW = W - PAD.left - PAD.right;
  const max = ticks(Math.max(1, ...series.flatMap((s) => s.ms))).at(-1)!;
  const x = (v: number) => PAD.left + (v / max) * plotW;
  const svg = [
    `<text x="${W / 2}" y="${top + 18}" text-anchor="middle" font-weight="bold">Join time (signalling start → first remote frame)</text>`,
  ];
  series.forEach((s, i) => {
    const y = top + PAD.top + i * rowH + rowH / 2;
    const sorted = [...s.ms].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
    const colour = COLOURS[i % COLOURS.length];
    svg.push(
      `<text x="${PAD.left - 8}" y="${y + 4}" text-anchor="end">${esc(s.name)} (n=${s.ms.length})</text>`,
    );
    if (sorted.length) {
      const [q1, med, q3] = [q(0.25)!, q(0.5)!, q(0.75)!];
      svg.push(
        `<rect x="${x(q1)}" y="${y - 9}" width="${Math.max(1, x(q3) - x(q1))}" height="18" fill="${colour}" fill-opacity="0.15" stroke="${colour}"/>`,
        `<line x1="${x(med)}" y1="${y - 11}" x2="${x(med)}" y2="${y + 11}" stroke="${colour}" stroke-width="3"/>`,
      );
    }
    for (const v of s.ms) {
      svg.push(`<circle cx="${x(v).toFixed(1)}" cy="${y}" r="2.5" fill="${colour}"/>`);
    }
  });
  svg.push(...axis(PAD.left, top + height - PAD.bottom, plotW, max, 'ms'));
  return { svg, height };
}

function cpuPanel(series: CpuSeries[], top: number): { svg: string[]; height: number } {
  const plotH = 220;
  const height = PAD.top + plotH + PAD.bottom + 16 * series.length;
  const plotW = W - PAD.left - PAD.right;
  const all = series.flatMap((s) => s.points);
  const maxN = ticks(Math.max(1, ...all.map((p) => p.n))).at(-1)!;
  const maxCpu = ticks(Math.max(1, ...all.map((p) => p.cpu))).at(-1)!;
  const y0 = top + PAD.top + plotH;
  const x = (n: number) => PAD.left + (n / maxN) * plotW;
  const y = (c: number) => y0 - (c / maxCpu) * plotH;
  const svg = [
    `<text x="${W / 2}" y="${top + 18}" text-anchor="middle" font-weight="bold">SFU CPU vs load (hollow: failed probe)</text>`,
    `<line x1="${PAD.left}" y1="${y0}" x2="${PAD.left}" y2="${y0 - plotH}" stroke="#333"/>`,
    `<text x="${PAD.left - 40}" y="${y0 - plotH / 2}" text-anchor="middle" transform="rotate(-90 ${PAD.left - 40} ${y0 - plotH / 2})">% of one core</text>`,
  ];
  for (const t of ticks(maxCpu, 5)) {
    svg.push(`<text x="${PAD.left - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`);
  }
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const pts = [...s.points].sort((a, b) => a.n - b.n);
    const line = pts
      .filter((p) => p.pass)
      .map((p) => `${x(p.n).toFixed(1)},${y(p.cpu).toFixed(1)}`);
    if (line.length > 1) {
      svg.push(`<polyline points="${line.join(' ')}" fill="none" stroke="${colour}"/>`);
    }
    for (const p of pts) {
      svg.push(
        `<circle cx="${x(p.n).toFixed(1)}" cy="${y(p.cpu).toFixed(1)}" r="3" fill="${p.pass ? colour : 'white'}" stroke="${colour}"/>`,
      );
    }
    const ly = y0 + PAD.bottom + 12 + i * 16;
    svg.push(
      `<rect x="${PAD.left}" y="${ly - 8}" width="10" height="10" fill="${colour}"/>`,
      `<text x="${PAD.left + 16}" y="${ly + 1}">${esc(s.name)}</text>`,
    );
  });
  svg.push(...axis(PAD.left, y0, plotW, maxN, 'load (consumers, or consults for density)'));
  return { svg, height };
}

/** The SVG document for one run's join samples and CPU series. */
export function renderPlot(title: string, joins: JoinSeries[], cpu: CpuSeries[]): string {
  const top = 28;
  const a = joinPanel(joins, top);
  const b = cpuPanel(cpu, top + a.height);
  const height = top + a.height + b.height;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${height}" fill="white"/>`,
    `<text x="10" y="18" font-size="12">${esc(title)}</text>`,
    ...a.svg,
    ...b.svg,
    '</svg>',
    '',
  ].join('\n');
}

interface Stepish {
  n: number;
  sfuCpu: number;
  pass: boolean;
}

/** Picks the plot's series out of a result file's section details. */
export function plotOf(r: ResultFile): string {
  const joins: JoinSeries[] = [];
  const join = r.sections.join?.details as Record<string, { samples?: { ms: number }[] } | null>;
  for (const name of ['gateway', 'bare', 'janus']) {
    const x = join?.[name];
    if (x?.samples) joins.push({ name, ms: x.samples.map((j) => j.ms) });
  }
  const cpu: CpuSeries[] = [];
  const add = (name: string, series: { steps?: Stepish[] } | null | undefined) => {
    if (series?.steps?.length) {
      cpu.push({
        name,
        points: series.steps.map((p) => ({ n: p.n, cpu: p.sfuCpu, pass: p.pass })),
      });
    }
  };
  const fanout = r.sections.fanout?.details as
    | Record<string, { gateway?: { steps?: Stepish[] }; janus?: { steps?: Stepish[] } | null }>
    | undefined;
  add('fan-out video to WebRTC subscribers, gateway', fanout?.['video.webrtc']?.gateway);
  add('fan-out video to WebRTC subscribers, Janus', fanout?.['video.webrtc']?.janus);
  for (const key of ['video', 'video.plain', 'audio']) {
    add(`fan-out ${key}, gateway`, fanout?.[key]?.gateway);
    add(`fan-out ${key}, Janus forwarders`, fanout?.[key]?.janus);
  }
  const density = r.sections.density?.details as
    | {
        gateway?: { steps?: Stepish[] };
        bare?: { steps?: Stepish[] };
        janus?: { steps?: Stepish[] } | null;
      }
    | undefined;
  add('density (consults), gateway', density?.gateway);
  add('density (consults), bare mediasoup', density?.bare);
  add('density (consults), Janus forwarders', density?.janus);
  const m = r.machine;
  return renderPlot(`${r.startedAt} (${r.mode}), ${m.cores} cores, ${m.cpuModel}`, joins, cpu);
}

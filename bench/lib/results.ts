/**
 * The result file: every figure with its baseline and the ratio between them, the machine,
 * the options, and each section's raw measurements. Written as JSON and as a markdown table.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import type { LoadSample } from './load.js';
import type { MachineInfo } from './machine.js';
import { plotOf } from './plot.js';
import type { BenchOptions } from './options.js';
import { round } from './stats.js';

export interface Figure {
  /** Stable key, e.g. `join.p50`. */
  id: string;
  section: string;
  label: string;
  unit: string;
  /** Which direction is good, so a reader knows how to read the ratio. */
  better: 'lower' | 'higher';
  value: number | null;
  baseline: { label: string; value: number | null };
  /** value / baseline.value, or null when either is missing. */
  ratio: number | null;
  /** How the figure was obtained (limits, caveats). */
  note?: string;
  /** Why value or baseline is null. */
  reason?: string;
  /**
   * A limit search that never failed: the load it stopped at, for our side (value) or the
   * baseline. The figure then has no value there and no ratio: a lower bound is not a limit.
   */
  notReached?: { value?: number; baseline?: number };
  /** Set when the section ran on a busy machine (--allow-load): the figure is not trustworthy. */
  loaded?: string;
}

export interface SectionResult {
  durationS: number;
  /** The machine's load measured just before the section. */
  load?: LoadSample;
  /** Set when the section failed; its figures are then null with this reason. */
  error?: string;
  details: unknown;
}

export interface ResultFile {
  schema: 'telemed-bench/1';
  startedAt: string;
  finishedAt: string;
  durationS: number;
  mode: BenchOptions['mode'];
  options: BenchOptions;
  machine: MachineInfo;
  figures: Figure[];
  sections: Record<string, SectionResult>;
}

export interface FigureInput {
  id: string;
  label: string;
  unit: string;
  better: 'lower' | 'higher';
  value: number | null;
  baselineLabel: string;
  baseline: number | null;
  note?: string;
  reason?: string;
  notReached?: { value?: number; baseline?: number };
  loaded?: string;
}

/** Builds a figure, computing the ratio and rounding for the report. */
export function figure(section: string, f: FigureInput): Figure {
  const nr = f.notReached ?? {};
  const value = nr.value === undefined ? round(f.value, 4) : null;
  const base = nr.baseline === undefined ? round(f.baseline, 4) : null;
  const ratio = value !== null && base !== null && base !== 0 ? round(value / base, 3) : null;
  const out: Figure = {
    id: `${section}.${f.id}`,
    section,
    label: f.label,
    unit: f.unit,
    better: f.better,
    value,
    baseline: { label: f.baselineLabel, value: base },
    ratio,
  };
  if (f.note) out.note = f.note;
  if (nr.value !== undefined || nr.baseline !== undefined) out.notReached = { ...nr };
  if (f.loaded) out.loaded = f.loaded;
  const bounds = [
    nr.value !== undefined ? `limit not reached at ${nr.value}` : '',
    nr.baseline !== undefined ? `${f.baselineLabel}: limit not reached at ${nr.baseline}` : '',
  ].filter(Boolean);
  const reason =
    [...bounds, f.reason].filter(Boolean).join('; ') ||
    (value === null || base === null ? 'not measured' : undefined);
  if (reason && (value === null || base === null)) out.reason = reason;
  return out;
}

const fmt = (v: number | null, unit: string, notReached?: number) =>
  notReached !== undefined ? `not reached at ${notReached}` : v === null ? '—' : `${v} ${unit}`;

/** One line on the machine's load before a section. */
export const describeLoad = (l: LoadSample) =>
  `${l.otherCores.toFixed(2)} cores busy with other processes over ${l.windowMs / 1000} s (1-min load average ${l.loadAvg1.toFixed(2)})`;

export function toMarkdown(r: ResultFile): string {
  const m = r.machine;
  const lines = [
    `# Benchmark ${r.startedAt} (${r.mode})`,
    '',
    `Machine: ${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os} (kernel ${m.kernel}); ` +
      `Node ${m.node}, mediasoup ${m.mediasoup}, Chromium ${m.chromium ?? 'n/a'}, Janus ${m.janus ?? 'n/a'}. ` +
      `Run took ${r.durationS} s.`,
    '',
    'Ratio = value / baseline. A ratio above 1 is worse when lower is better.',
    `Plot: [${stamp(new Date(r.startedAt))}.svg](${stamp(new Date(r.startedAt))}.svg).`,
  ];
  const sections = [...new Set(r.figures.map((f) => f.section))];
  for (const section of sections) {
    lines.push('', `## ${section}`, '');
    const err = r.sections[section]?.error;
    if (err) lines.push(`Section failed: ${err}`, '');
    const load = r.sections[section]?.load;
    if (load) lines.push(`Load before the section: ${describeLoad(load)}.`, '');
    lines.push(
      '| figure | value | baseline | baseline value | ratio | notes |',
      '|---|---|---|---|---|---|',
    );
    for (const f of r.figures.filter((x) => x.section === section)) {
      const notes = [
        f.loaded ? `⚠ measured on a busy machine (${f.loaded})` : '',
        f.better === 'lower' ? 'lower is better' : 'higher is better',
        f.note,
        f.reason,
      ]
        .filter(Boolean)
        .join('; ');
      lines.push(
        `| ${f.label} | ${fmt(f.value, f.unit, f.notReached?.value)} | ${f.baseline.label} | ${fmt(f.baseline.value, f.unit, f.notReached?.baseline)} | ${f.ratio ?? '—'} | ${notes.replace(/\|/g, '/')} |`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

/** A file-name-safe timestamp, e.g. 2025-01-31T12-00-00Z. */
export function stamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

/** Writes <date>.json, <date>.md (formatted as the repository's Prettier would) and <date>.svg. */
export async function writeResults(
  r: ResultFile,
  outDir: string,
): Promise<{ json: string; md: string; svg: string }> {
  fs.mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, stamp(new Date(r.startedAt)));
  const json = `${base}.json`;
  const md = `${base}.md`;
  const svg = `${base}.svg`;
  const config = (await prettier.resolveConfig(json)) ?? {};
  const jsonText = await prettier.format(JSON.stringify(r), { ...config, filepath: json });
  const mdText = await prettier.format(toMarkdown(r), { ...config, filepath: md });
  // Written under a temporary name first so a reader never sees half a file.
  fs.writeFileSync(`${json}.tmp`, jsonText);
  fs.renameSync(`${json}.tmp`, json);
  fs.writeFileSync(md, mdText);
  fs.writeFileSync(svg, plotOf(r));
  return { json, md, svg };
}

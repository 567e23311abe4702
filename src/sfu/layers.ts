/**
 * Simulcast/SVC layers as the bandwidth adapter sees them: which quality levels a video
 * producer offers now (from its stats) and how layer limits combine.
 */
import type { types } from 'mediasoup';
import type { Layers, VideoLevel } from './bandwidthPolicy.js';

/** The lower of two layer limits. */
export function lowerLayers(a: Layers, b: Layers): Layers {
  const spatialLayer = Math.min(a.spatialLayer, b.spatialLayer);
  // A lower spatial layer keeps its own temporal limit; on the same layer both limits apply.
  const temporalLayer =
    a.spatialLayer === b.spatialLayer
      ? Math.min(a.temporalLayer, b.temporalLayer)
      : a.spatialLayer < b.spatialLayer
        ? a.temporalLayer
        : b.temporalLayer;
  return { spatialLayer, temporalLayer };
}

/** A limit as reported to clients: null for "no limit" (FULL). */
export function finiteLayers(l: Layers): Layers | null {
  return Number.isFinite(l.spatialLayer) ? l : null;
}

/** The highest layers a simulcast/SVC consumer has (from its scalability mode, e.g. L3T3). */
export function consumerMaxLayers(consumer: types.Consumer): Layers {
  const mode = consumer.rtpParameters.encodings?.[0]?.scalabilityMode ?? '';
  const m = /^[LS](\d+)T(\d+)/.exec(mode);
  return m
    ? { spatialLayer: Number(m[1]) - 1, temporalLayer: Number(m[2]) - 1 }
    : { spatialLayer: 0, temporalLayer: 0 };
}

type ProducerStat = types.ProducerStat & { bitrateByLayer?: Record<string, number> };

/** Each encoding's stream stats (matched by rid, else ssrc); undefined where mediasoup has none yet. */
export function statsByEncoding<S extends types.ProducerStat>(
  rtpParameters: types.RtpParameters,
  stats: readonly S[],
): (S | undefined)[] {
  return (rtpParameters.encodings ?? []).map((enc) =>
    stats.find((s) => (enc.rid !== undefined ? s.rid === enc.rid : s.ssrc === enc.ssrc)),
  );
}

/**
 * The levels a video producer offers now, lowest first, with their measured bitrates: the
 * temporal layers of the lowest spatial layer (e.g. 7.5, 15, 30 fps), then each higher
 * spatial layer in full. Inactive layers (no stream or bitrate 0) are left out. Before
 * any stats exist, the encodings' maxBitrate stands in.
 */
export function videoLevels(
  rtpParameters: types.RtpParameters,
  stats: readonly types.ProducerStat[],
): VideoLevel[] {
  const encodings = rtpParameters.encodings ?? [];
  const byEncoding = statsByEncoding(rtpParameters, stats as readonly ProducerStat[]);
  const levels: VideoLevel[] = [];
  if (encodings.length > 1) {
    // Simulcast: one stream per spatial layer.
    encodings.forEach((enc, spatialLayer) => {
      const stat = byEncoding[spatialLayer];
      const temporal = temporalBitrates(stat, 0);
      if (stat && stat.bitrate > 0) {
        if (spatialLayer === 0 && temporal.length > 1) {
          temporal.forEach((bitrate, temporalLayer) => {
            if (bitrate > 0) levels.push({ spatialLayer, temporalLayer, bitrate });
          });
        } else {
          const top = Math.max(0, temporal.length - 1);
          levels.push({ spatialLayer, temporalLayer: top, bitrate: stat.bitrate });
        }
      } else if (stats.length === 0 && enc.maxBitrate) {
        levels.push({ spatialLayer, temporalLayer: 2, bitrate: enc.maxBitrate });
      }
    });
    return levels;
  }
  const stat = byEncoding[0];
  if (!stat) {
    const max = encodings[0]?.maxBitrate;
    return max ? [{ spatialLayer: 0, temporalLayer: 0, bitrate: max }] : [];
  }
  if (stat.bitrate <= 0) return [];
  const layers = stat.bitrateByLayer ?? {};
  const spatial = new Set(Object.keys(layers).map((k) => Number(k.split('.')[0])));
  if (spatial.size <= 1) {
    // One stream, maybe with temporal layers: a simple consumer can only be on or off.
    return [{ spatialLayer: 0, temporalLayer: 0, bitrate: stat.bitrate }];
  }
  // SVC: spatial layers inside one stream.
  for (const s of [...spatial].sort((a, b) => a - b)) {
    const temporal = temporalBitrates(stat, s);
    const top = temporal.length - 1;
    if (temporal[top]! > 0)
      levels.push({ spatialLayer: s, temporalLayer: top, bitrate: temporal[top]! });
  }
  return levels;
}

/** Cumulative bitrate up to each temporal layer of a spatial layer ("s.t" keys of bitrateByLayer). */
function temporalBitrates(stat: ProducerStat | undefined, spatialLayer: number): number[] {
  const layers = stat?.bitrateByLayer ?? {};
  const out: number[] = [];
  for (let t = 0; `${spatialLayer}.${t}` in layers; t++) out.push(layers[`${spatialLayer}.${t}`]!);
  return out;
}

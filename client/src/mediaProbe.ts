/**
 * The network check against the media port: asks the gateway for a short-lived probe
 * transport (the consults' own ICE candidates, UDP and TCP), opens a data channel to it with
 * mediasoup-client, reads the selected candidate pair's round trip, sends a short burst and
 * lets the media server count what arrived. Says which path got through, or why none did.
 */
import { Device } from 'mediasoup-client';
import type { types as ms } from 'mediasoup-client';
import type { MediaProbeOffer, MediaProbeResult } from '../../src/protocol';
import { API_BASE } from './api';

/** The media ports the gateway listens on (for the "ask IT" advice). */
export type MediaPorts = MediaProbeOffer['ports'];

export type MediaProbeOutcome =
  | {
      ok: true;
      path: 'udp' | 'tcp';
      rttMs: number | null;
      upKbps: number | null;
      ports: MediaPorts;
    }
  | { ok: false; reason: 'unreachable' | 'refused' | 'unsupported'; ports: MediaPorts | null };

/** ICE and DTLS must complete within this, else the media port counts as unreachable. */
const CONNECT_MS = 8000;
/** The burst: this long at most, this many bytes at most, kept this far ahead of the wire. */
const BURST_MS = 2500;
const BURST_MAX_BYTES = 4_000_000;
const CHUNK = 16 * 1024;
const AHEAD = 512 * 1024;
/** After the burst, time for what is still buffered to leave. */
const DRAIN_MS = 1500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Refused extends Error {}

/** Rejects with `Refused` on an HTTP refusal (limits, an ended consult, a closed probe). */
async function post<T>(token: string, path: string, body: unknown = {}): Promise<T> {
  const res = await fetch(`${API_BASE}/netcheck/media${path}`, {
    method: 'POST',
    cache: 'no-store',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Refused(`media check refused: ${res.status}`);
  return (await res.json()) as T;
}

/** The selected candidate pair's current round trip in ms, if the browser reports one. */
async function roundTrip(transport: ms.Transport): Promise<number | null> {
  const report = await transport.getStats();
  let pairId: string | undefined;
  report.forEach((s: { type: string; selectedCandidatePairId?: string }) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  let rtt: number | null = null;
  report.forEach(
    (s: { type: string; id: string; nominated?: boolean; currentRoundTripTime?: number }) => {
      if (s.type !== 'candidate-pair' || s.currentRoundTripTime === undefined) return;
      if (pairId ? s.id === pairId : s.nominated) rtt = Math.round(s.currentRoundTripTime * 1000);
    },
  );
  return rtt;
}

function opened(dp: ms.DataProducer): Promise<boolean> {
  if (dp.readyState === 'open') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), CONNECT_MS);
    dp.on('open', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Sends for BURST_MS (or BURST_MAX_BYTES), then lets the buffer drain. */
async function burst(dp: ms.DataProducer): Promise<void> {
  const chunk = new Uint8Array(CHUNK).buffer;
  const start = performance.now();
  let sent = 0;
  while (performance.now() - start < BURST_MS && sent < BURST_MAX_BYTES) {
    while (dp.bufferedAmount < AHEAD && sent < BURST_MAX_BYTES && dp.readyState === 'open') {
      dp.send(chunk);
      sent += CHUNK;
    }
    if (dp.readyState !== 'open') return;
    await sleep(10);
  }
  const end = performance.now() + DRAIN_MS;
  while (dp.bufferedAmount > 0 && performance.now() < end) await sleep(20);
}

/** Runs the probe with `token` (the join grant); never throws. */
export async function probeMedia(token: string): Promise<MediaProbeOutcome> {
  if (typeof RTCPeerConnection === 'undefined')
    return { ok: false, reason: 'unsupported', ports: null };
  let offer: MediaProbeOffer;
  try {
    offer = await post<MediaProbeOffer>(token, '');
  } catch {
    return { ok: false, reason: 'refused', ports: null };
  }
  const { ports, probeId } = offer;
  let transport: ms.Transport | undefined;
  try {
    const device = new Device();
    await device.load({ routerRtpCapabilities: offer.routerRtpCapabilities });
    transport = device.createSendTransport({ ...offer.transport, iceServers: [] });
    transport.on('connect', ({ dtlsParameters }, done, fail) => {
      post(token, `/${probeId}/connect`, { dtlsParameters }).then(() => done(), fail);
    });
    transport.on('producedata', ({ sctpStreamParameters }, done, fail) => {
      post<{ dataProducerId: string }>(token, `/${probeId}/data`, { sctpStreamParameters }).then(
        ({ dataProducerId }) => done({ id: dataProducerId }),
        fail,
      );
    });
    const dp = await transport.produceData({ ordered: true, label: 'netcheck' });
    if (!(await opened(dp))) {
      // Frees this participant's probe at once instead of at its expiry.
      await post(token, `/${probeId}/result`).catch(() => undefined);
      return { ok: false, reason: 'unreachable', ports };
    }
    // Measured before the burst: a full send queue would add its own delay.
    const rttMs = await roundTrip(transport);
    await burst(dp);
    const result = await post<MediaProbeResult>(token, `/${probeId}/result`);
    if (!result.path) return { ok: false, reason: 'unreachable', ports };
    return {
      ok: true,
      path: result.path,
      rttMs: rttMs ?? (await roundTrip(transport)),
      upKbps: result.upKbps,
      ports,
    };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: 'refused', ports };
    return { ok: false, reason: 'unsupported', ports };
  } finally {
    transport?.close();
  }
}

/**
 * The SFU's side of a join's first picture (BENCH_JOIN_BREAKDOWN=1), read through mediasoup's
 * observers, so the system measured runs unchanged: for each new video consumer, when (ms
 * after its creation) it was resumed, its transport's ICE and DTLS connected, its producer's
 * sender was asked for a key frame (PLI/FIR), the producer received one and the consumer
 * forwarded its first. `createdAt` (epoch ms) lines it up with the page's marks.
 */
import type { types } from 'mediasoup';

export interface KeyFrameTrace {
  createdAt: number;
  /** Each event's first time, ms after the consumer's creation. */
  first: Record<string, number>;
  /** Every key-frame request sent to the sender meanwhile, ms after the consumer's creation. */
  requests: number[];
}

/** Traces every video consumer made on `worker` from now on into `traces` (newest last). */
export function traceFirstKeyFrames(worker: types.Worker, traces: KeyFrameTrace[]): void {
  const producers = new Map<string, types.Producer>();
  worker.observer.on('newrouter', (router) => {
    router.observer.on('newtransport', (transport) => {
      transport.observer.on('newproducer', (producer) => {
        if (producer.kind !== 'video') return;
        producers.set(producer.id, producer);
        producer.observer.once('close', () => producers.delete(producer.id));
        producer.enableTraceEvent(['keyframe', 'pli', 'fir']).catch(() => undefined);
      });
      transport.observer.on('newconsumer', (consumer) => {
        if (consumer.kind !== 'video') return;
        const t0 = performance.now();
        const trace: KeyFrameTrace = {
          createdAt: Math.round(performance.timeOrigin + t0),
          first: {},
          requests: [],
        };
        traces.push(trace);
        if (traces.length > 200) traces.shift();
        const at = () => Math.round(performance.now() - t0);
        const mark = (what: string) => (trace.first[what] ??= at());
        const producer = producers.get(consumer.producerId);
        const onProducerTrace = (t: types.ProducerTraceEventData) => {
          if (t.type === 'keyframe' && t.direction === 'in') mark('keyFrameIn');
          if ((t.type === 'pli' || t.type === 'fir') && t.direction === 'out') {
            trace.requests.push(at());
          }
        };
        producer?.observer.on('trace', onProducerTrace);
        consumer.observer.on('resume', () => mark('resumed'));
        consumer.observer.on('trace', (t) => {
          if (t.type === 'keyframe' && t.direction === 'out') mark('keyFrameOut');
        });
        consumer.enableTraceEvent(['keyframe']).catch(() => undefined);
        if (!consumer.paused) mark('resumed');
        const wt = transport as types.WebRtcTransport;
        wt.observer.on('icestatechange', (state) => {
          if (state === 'connected' || state === 'completed') mark('iceConnected');
        });
        wt.observer.on('dtlsstatechange', (state) => {
          if (state === 'connected') mark('dtlsConnected');
        });
        if (wt.dtlsState === 'connected') mark('dtlsConnected');
        consumer.observer.once('close', () => {
          producer?.observer.off('trace', onProducerTrace);
        });
      });
    });
  });
}

/**
 * The trace of the first video consumer made after `startEpochMs` (a page's join start), its
 * times moved to ms after that start like the page's own marks; null if none.
 */
export function traceSince(traces: KeyFrameTrace[], startEpochMs: number) {
  const t = traces.find((x) => x.createdAt >= startEpochMs);
  if (!t) return null;
  const shift = t.createdAt - startEpochMs;
  return {
    created: shift,
    ...Object.fromEntries(Object.entries(t.first).map(([k, v]) => [k, v + shift])),
    requests: t.requests.map((v) => v + shift),
  };
}

/** Media: transports, producers and consumers of the caller's own seat. */
import type { types } from 'mediasoup';
import { clientEvents } from '../../protocol/events.js';
import type { ConsumeResponse, TransportResponse } from '../../protocol/payloads.js';
import type { ConsumerAppData } from '../../sfu/Peer.js';
import { GatewayError } from '../../errors.js';
import { peerStats } from '../../sfu/peerStats.js';
import { fromClient, toClient } from '../../sfu/wire.js';
import { handle } from '../handler.js';
import { permit, type HandlerContext } from './context.js';

/** What the client needs of a new transport (the `createTransport` answer). */
export function transportInfo(transport: types.WebRtcTransport): TransportResponse {
  return {
    id: transport.id,
    iceParameters: toClient.iceParameters(transport.iceParameters),
    iceCandidates: toClient.iceCandidates(transport.iceCandidates),
    dtlsParameters: toClient.dtlsParameters(transport.dtlsParameters),
  };
}

/** What the client needs of a new consumer (the `consume` answer). */
export function consumerInfo(consumer: types.Consumer<ConsumerAppData>): ConsumeResponse {
  return {
    consumerId: consumer.id,
    producerId: consumer.producerId,
    peerId: consumer.appData.peerId,
    kind: consumer.kind,
    rtpParameters: toClient.rtpParameters(consumer.rtpParameters),
    appData: { source: consumer.appData.source },
    producerPaused: consumer.producerPaused,
  };
}

/**
 * Resumes a consumer of the caller's seat through its bandwidth adapter (so a client cannot
 * undo a pause its bandwidth needs), telling the client when its video stays paused for that.
 */
export async function resumeConsumer(ctx: HandlerContext, consumerId: string): Promise<void> {
  const peer = ctx.session.seatOf(ctx.conn);
  peer.consumer(consumerId);
  const { pausedForBandwidth } = await peer.bandwidth.resume(consumerId);
  if (pausedForBandwidth) ctx.conn.send('videoPaused', { consumerId, reason: 'bandwidth' });
}

export function mediaHandlers(ctx: HandlerContext): void {
  const { socket, log, conn, session } = ctx;
  const seat = () => session.seatOf(conn);

  handle(socket, log, clientEvents.createTransport, async ({ direction }) =>
    transportInfo(await seat().createTransport(direction)),
  );

  handle(socket, log, clientEvents.connectTransport, async (req) => {
    await seat()
      .transport(req.transportId)
      .connect({ dtlsParameters: fromClient.dtlsParameters(req.dtlsParameters) });
    return {};
  });

  handle(socket, log, clientEvents.produce, async (req) => {
    const peer = seat();
    await permit(ctx, 'produce');
    const producer = await peer.produce(
      req.transportId,
      req.kind,
      fromClient.rtpParameters(req.rtpParameters),
      req.appData.source,
    );
    // In a cluster, the answer waits for the producer's directory entry: a peer the client
    // tells about it directly can consume it through any node.
    await session.listed(producer.id);
    return { producerId: producer.id };
  });

  handle(socket, log, clientEvents.consume, async (req) => {
    seat();
    await permit(ctx, 'consume');
    const consumer = await session.consume(
      conn,
      req.producerId,
      fromClient.rtpCapabilities(req.rtpCapabilities),
    );
    return consumerInfo(consumer);
  });

  handle(socket, log, clientEvents.resumeConsumer, async ({ consumerId }) => {
    await resumeConsumer(ctx, consumerId);
    return {};
  });

  handle(socket, log, clientEvents.pauseProducer, async ({ producerId }) => {
    await seat().pauseProducer(producerId);
    return {};
  });

  handle(socket, log, clientEvents.resumeProducer, async ({ producerId }) => {
    await seat().resumeProducer(producerId);
    return {};
  });

  handle(socket, log, clientEvents.closeProducer, ({ producerId }) => {
    seat().closeProducer(producerId);
    return {};
  });

  handle(socket, log, clientEvents.setPreferredLayers, async (req) => {
    const peer = seat();
    const consumer = peer.consumer(req.consumerId);
    if (consumer.type !== 'simulcast' && consumer.type !== 'svc') {
      throw new GatewayError('bad_request', `consumer ${req.consumerId} has no layers`);
    }
    // The adapter applies the lower of the client's choice and what the bandwidth allows.
    await peer.bandwidth.setPreferredLayers(consumer.id, {
      spatialLayer: req.spatialLayer,
      ...(req.temporalLayer === undefined ? {} : { temporalLayer: req.temporalLayer }),
    });
    return {};
  });

  handle(socket, log, clientEvents.restartIce, async ({ transportId }) => {
    const iceParameters = await seat().transport(transportId).restartIce();
    return { iceParameters: toClient.iceParameters(iceParameters) };
  });

  handle(socket, log, clientEvents.getStats, async () => peerStats(seat()));
}

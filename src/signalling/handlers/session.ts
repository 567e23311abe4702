/** Joining and leaving: the lobby or a seat, decided by the consult session. */
import type { types } from 'mediasoup';
import { clientEvents } from '../../protocol/events.js';
import type { ConsumeResponse, JoinResponse } from '../../protocol/payloads.js';
import { fromClient } from '../../sfu/wire.js';
import { handle } from '../handler.js';
import { consumerInfo, resumeConsumer, transportInfo } from './media.js';
import { permit, type HandlerContext } from './context.js';

/**
 * Consumes and resumes every producer of the join answer's `peers` on the new receive
 * transport, in the answer's order. One that cannot be consumed now (closed meanwhile, not
 * receivable with these capabilities) is left out: the client's own `consume` then says why.
 */
async function consumeAll(
  ctx: HandlerContext,
  joined: JoinResponse,
  rtpCapabilities: types.RtpCapabilities,
): Promise<ConsumeResponse[]> {
  const producerIds = joined.peers.flatMap((p) => p.producers.map((pr) => pr.producerId));
  const consumed = await Promise.all(
    producerIds.map(async (producerId) => {
      try {
        const consumer = await ctx.session.consume(ctx.conn, producerId, rtpCapabilities);
        await resumeConsumer(ctx, consumer.id);
        return consumerInfo(consumer);
      } catch (err) {
        ctx.log.debug({ err, producerId }, 'not consumed with the join');
        return null;
      }
    }),
  );
  return consumed.filter((c): c is ConsumeResponse => c !== null);
}

export function sessionHandlers(ctx: HandlerContext): void {
  const { socket, log, conn, session } = ctx;
  handle(socket, log, clientEvents.join, async (req) => {
    // Consuming with the join needs the grant to consume: refused before any seat is taken.
    if (req.rtpCapabilities) await permit(ctx, 'consume');
    const res = await session.join(conn, req);
    if ((!req.recvTransport && !req.sendTransport) || res.waiting) return res;
    // The joiner's next steps, done now: its first frame is one round trip closer.
    const peer = session.seatOf(conn);
    const [recv, send] = await Promise.all([
      req.recvTransport ? peer.createTransport('recv') : undefined,
      req.sendTransport ? peer.createTransport('send') : undefined,
    ]);
    // And with the Device's capabilities, its consumers too (two round trips fewer).
    const consumers =
      recv && req.rtpCapabilities
        ? await consumeAll(ctx, res, fromClient.rtpCapabilities(req.rtpCapabilities))
        : undefined;
    return {
      ...res,
      ...(recv ? { recvTransport: transportInfo(recv) } : {}),
      ...(send ? { sendTransport: transportInfo(send) } : {}),
      ...(consumers ? { consumers } : {}),
    };
  });

  handle(socket, log, clientEvents.leave, async () => {
    await session.leave(conn);
    return {};
  });
}

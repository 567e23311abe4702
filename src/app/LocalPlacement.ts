/** Placement on a single node: every participant and producer is in this node's room. */
import type { types } from 'mediasoup';
import { GatewayError } from '../errors.js';
import type { ConsumerAppData, Peer } from '../sfu/Peer.js';
import type { Room } from '../sfu/Room.js';
import type { MediaPlacement } from './ports.js';

/** Consumes a producer of this node's room for `peer` (not its own). */
export async function consumeLocal(
  room: Room,
  peer: Peer,
  producerId: string,
  rtpCapabilities: types.RtpCapabilities,
): Promise<types.Consumer<ConsumerAppData>> {
  const producer = room.findProducer(producerId);
  if (producer.appData.peerId === peer.id) {
    throw new GatewayError('bad_request', 'cannot consume your own producer');
  }
  return peer.consume(producer, rtpCapabilities);
}

export const localPlacement: MediaPlacement = {
  remotePeers: () => Promise.resolve([]),
  consume: consumeLocal,
  seatElsewhere: () => Promise.resolve(undefined),
  seatsElsewhere: () => Promise.resolve(0),
};

/**
 * A gateway node of a test cluster, in its own process (so a test can SIGKILL it): the real
 * startGateway with REDIS_URL from the environment, plus a control channel over IPC through
 * which the test makes media that no browser makes here (a plain-RTP producer, a plain-RTP
 * consumer of another node's producer) and reads what the node sees.
 */
import type { types } from 'mediasoup';
import { loadConfig } from '../../src/config.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import { audioRtpParameters } from './rtp.js';
import { scheduledConsult } from './consultRow.js';

type Command =
  | { cmd: 'nodes' }
  | { cmd: 'produce'; consultId: string; ssrc: number }
  | { cmd: 'consumeRemote'; consultId: string; node: string; producerId: string; port: number }
  | { cmd: 'closeConsumer'; consumerId: string }
  | { cmd: 'closeProducer'; producerId: string }
  | { cmd: 'pauseProducer'; producerId: string; paused: boolean }
  | { cmd: 'closeRoom'; consultId: string }
  | { cmd: 'consumerStats'; consumerId: string }
  | { cmd: 'pipes' }
  | { cmd: 'pipePorts' }
  | { cmd: 'seed' }
  | {
      cmd: 'plainTransport';
      consultId: string;
      peerId: string;
      direction: 'send' | 'recv';
      port?: number;
    }
  | { cmd: 'lobby'; consultId: string }
  | { cmd: 'consult'; consultId: string };

const config = loadConfig(process.env);
const gateway = await startGateway(config, createLogger(config.logLevel, 'cluster-node'));
const cluster = gateway.cluster!;
const producers = new Map<string, types.Producer>();
const consumers = new Map<string, types.Consumer>();

async function run(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'nodes':
      return cluster.registry.list();
    case 'produce': {
      // RTP from the test's UDP socket; comedia learns its address from the first packet.
      const room = await gateway.rooms.getOrCreate(c.consultId);
      const transport = await room.router.createPlainTransport({
        listenIp: '127.0.0.1',
        rtcpMux: true,
        comedia: true,
      });
      const producer = await transport.produce({
        kind: 'audio',
        rtpParameters: audioRtpParameters(c.ssrc) as types.RtpParameters,
      });
      producers.set(producer.id, producer);
      return { producerId: producer.id, port: transport.tuple.localPort };
    }
    case 'consumeRemote': {
      const room = await gateway.rooms.getOrCreate(c.consultId);
      const transport = await room.router.createPlainTransport({
        listenIp: '127.0.0.1',
        rtcpMux: true,
        comedia: false,
      });
      await transport.connect({ ip: '127.0.0.1', port: c.port });
      try {
        const consumer = await cluster.bridge.consume(c.consultId, c.node, c.producerId, (p) =>
          transport.consume({ producerId: p.id, rtpCapabilities: room.router.rtpCapabilities }),
        );
        consumer.observer.once('close', () => transport.close());
        consumers.set(consumer.id, consumer);
        return { consumerId: consumer.id };
      } catch (err) {
        transport.close();
        throw err;
      }
    }
    case 'closeConsumer':
      consumers.get(c.consumerId)?.close();
      consumers.delete(c.consumerId);
      return null;
    case 'closeProducer':
      producers.get(c.producerId)?.close();
      producers.delete(c.producerId);
      return null;
    case 'pauseProducer': {
      const producer = producers.get(c.producerId);
      await (c.paused ? producer?.pause() : producer?.resume());
      return null;
    }
    case 'closeRoom':
      // The consult's media here ends (its router closes, and the pipe links on it with it).
      gateway.rooms.rooms.get(c.consultId)?.close('consult_ended');
      return null;
    case 'consumerStats': {
      const consumer = consumers.get(c.consumerId);
      if (!consumer || consumer.closed) return { closed: true, packets: 0, producerPaused: false };
      // It may close while the stats are on their way (the producer on the other node closed).
      // The worker may answer "not found" before its close notification reaches this object.
      let gone = false;
      const stats = await consumer.getStats().catch((err: Error) => {
        if (consumer.closed || /not found/.test(err.message)) return ((gone = true), []);
        throw err;
      });
      if (gone || consumer.closed) return { closed: true, packets: 0, producerPaused: false };
      const outbound = stats.find((s) => s.type === 'outbound-rtp');
      return {
        closed: false,
        packets: outbound?.packetCount ?? 0,
        // Its producer here is the pipe's: paused when the node that has the source says so.
        producerPaused: consumer.producerPaused,
      };
    }
    case 'pipes':
      return cluster.bridge.stats();
    case 'pipePorts':
      return cluster.bridge.ports();
    case 'seed': {
      // A consult hosted by a doctor with one specialist, in the cluster's shared database.
      const suffix = Math.random().toString(36).slice(2, 8);
      const user = (role: 'doctor' | 'specialist') =>
        gateway.auth.createUser(
          {
            role,
            name: `${role} ${suffix}`,
            email: `${role}.${suffix}@test.local`,
            password: 'correct horse battery staple',
          },
          null,
          null,
        );
      const [doctor, specialist] = [await user('doctor'), await user('specialist')];
      const consultId = `cluster-consult-${suffix}`;
      await gateway.store.consults.insert(
        scheduledConsult(consultId, doctor.id, {
          title: 'Cluster consult',
          patientRef: 'P-CLUSTER',
          specialistIds: [specialist.id],
        }),
      );
      return {
        consultId,
        hostToken: (await gateway.consults.mintOperatorGrant(consultId, doctor.id)).token,
        specialistToken: (await gateway.consults.mintOperatorGrant(consultId, specialist.id)).token,
      };
    }
    case 'plainTransport': {
      // Stands in for a joined peer's WebRTC transport: plain RTP from/to the test's UDP
      // sockets, no ICE or DTLS. Produce and consume on it through the protocol as usual.
      const room = gateway.rooms.rooms.get(c.consultId);
      const peer = room?.peers.get(c.peerId);
      if (!room || !peer) throw new Error(`no peer ${c.peerId} on this node`);
      const { router } = await peer.place();
      const transport = await router.createPlainTransport({
        listenIp: '127.0.0.1',
        rtcpMux: true,
        comedia: c.direction === 'send',
      });
      if (c.port !== undefined) await transport.connect({ ip: '127.0.0.1', port: c.port });
      peer.transports.set(transport.id, {
        transport: transport as unknown as types.WebRtcTransport,
        direction: c.direction,
      });
      return { transportId: transport.id, port: transport.tuple.localPort };
    }
    case 'lobby':
      return gateway.lobby.list(c.consultId);
    case 'consult':
      // The record as the shared database has it now.
      return gateway.consults.find(c.consultId);
  }
}

process.on('message', (msg: { id: number } & Command) => {
  run(msg).then(
    (data) => process.send!({ id: msg.id, ok: true, data }),
    (err: Error) => process.send!({ id: msg.id, ok: false, error: err.message }),
  );
});
// As main.ts: SIGTERM (or POST /drain) drains the node, then it exits.
const stop = () => void gateway.shutdown().finally(() => process.exit(0));
gateway.onDrainRequest = stop;
process.on('SIGTERM', stop);
// The test process died (or was killed): do not live on as an orphan eating the CPU.
process.on('disconnect', () => process.exit(1));
process.send!({ ready: true, nodeId: cluster.id, url: gateway.url });

/**
 * WebRTC parameters between mediasoup and the protocol's (mediasoup-client's) types. mediasoup
 * 3.12 declares them more loosely (optional payload types, header extension URIs as strings,
 * ICE candidates' `ip` where mediasoup-client 3.24 names `address` and still reads `ip`); the
 * values on the wire are the same, so the casts live here, once.
 */
import type { types } from 'mediasoup';
import type { z } from 'zod';
import type {
  DtlsParameters,
  IceCandidate,
  IceParameters,
  RtpCapabilities,
  RtpParameters,
  SctpParameters,
  dtlsParametersSchema,
  rtpCapabilitiesSchema,
  rtpParametersSchema,
} from '../protocol/rtp.js';

/** Server-side parameters as the client receives them. */
export const toClient = {
  rtpCapabilities: (c: types.RtpCapabilities) => c as unknown as RtpCapabilities,
  rtpParameters: (p: types.RtpParameters) => p as unknown as RtpParameters,
  iceParameters: (p: types.IceParameters) => p as unknown as IceParameters,
  iceCandidates: (c: types.IceCandidate[]) => c as unknown as IceCandidate[],
  dtlsParameters: (p: types.DtlsParameters) => p as unknown as DtlsParameters,
  sctpParameters: (p: types.SctpParameters) => p as unknown as SctpParameters,
};

/** Parsed request parameters as mediasoup takes them (mediasoup checks them deeply). */
export const fromClient = {
  rtpCapabilities: (c: z.output<typeof rtpCapabilitiesSchema>) => c as types.RtpCapabilities,
  rtpParameters: (p: z.output<typeof rtpParametersSchema>) => p as types.RtpParameters,
  dtlsParameters: (p: z.output<typeof dtlsParametersSchema>) => p as types.DtlsParameters,
};

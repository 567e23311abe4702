/**
 * WebRTC parameters as they cross the wire. Requests are checked structurally here (mediasoup
 * checks them deeply); their types are mediasoup-client's, imported type-only, so the browser
 * build stays free of the server and the server needs no casts to hand them to the client.
 */
import type { types as msc } from 'mediasoup-client';
import { z } from 'zod';

export type RtpCapabilities = msc.RtpCapabilities;
export type RtpParameters = msc.RtpParameters;
export type DtlsParameters = msc.DtlsParameters;
export type IceParameters = msc.IceParameters;
export type IceCandidate = msc.IceCandidate;
export type SctpParameters = msc.SctpParameters;

const looseRecord = z.record(z.string(), z.unknown());

export const dtlsParametersSchema = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(z.object({ algorithm: z.string().min(1).max(32), value: z.string().min(1).max(256) }))
    .min(1)
    .max(8),
});

const rtcpFeedbackSchema = z.object({
  type: z.string().min(1).max(64),
  parameter: z.string().max(64).optional(),
});

const codecParametersSchema = z.object({
  mimeType: z.string().min(3).max(64),
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive(),
  channels: z.number().int().positive().optional(),
  parameters: looseRecord.optional(),
  rtcpFeedback: z.array(rtcpFeedbackSchema).max(32).optional(),
});

const headerExtensionParametersSchema = z.object({
  uri: z.string().min(1).max(256),
  id: z.number().int().min(1).max(255),
  encrypt: z.boolean().optional(),
  parameters: looseRecord.optional(),
});

const encodingSchema = z.object({
  ssrc: z.number().int().nonnegative().optional(),
  rid: z.string().max(32).optional(),
  codecPayloadType: z.number().int().optional(),
  rtx: z.object({ ssrc: z.number().int().nonnegative() }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().max(16).optional(),
  scaleResolutionDownBy: z.number().positive().optional(),
  maxBitrate: z.number().positive().optional(),
  maxFramerate: z.number().positive().optional(),
  adaptivePtime: z.boolean().optional(),
  priority: z.string().max(16).optional(),
  networkPriority: z.string().max(16).optional(),
  active: z.boolean().optional(),
});

export const rtpParametersSchema = z.object({
  mid: z.string().max(32).optional(),
  codecs: z.array(codecParametersSchema).min(1).max(32),
  headerExtensions: z.array(headerExtensionParametersSchema).max(32).optional(),
  encodings: z.array(encodingSchema).max(8).optional(),
  rtcp: z
    .object({
      cname: z.string().max(256).optional(),
      reducedSize: z.boolean().optional(),
      mux: z.boolean().optional(),
    })
    .optional(),
});

export const rtpCapabilitiesSchema = z.object({
  codecs: z
    .array(
      z.looseObject({
        kind: z.enum(['audio', 'video']),
        mimeType: z.string().min(3).max(64),
        clockRate: z.number().int().positive(),
      }),
    )
    .max(128)
    .optional(),
  headerExtensions: z.array(looseRecord).max(64).optional(),
});

/** Local capture (camera, mic, screen) and the producer settings for each source. */
import type { Device, types as ms } from 'mediasoup-client';
import type { MediaSource } from '../../src/signalling/messages';
import { audioConstraints, videoConstraints } from './devicePrefs';
import { NO_MEDIA_DEVICES, mediaProblem } from './mediaErrors';

/** Camera simulcast: three spatial layers, three temporal layers each. */
export const CAMERA_ENCODINGS: readonly ms.RtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 100_000, scalabilityMode: 'L1T3' },
  { scaleResolutionDownBy: 2, maxBitrate: 300_000, scalabilityMode: 'L1T3' },
  { scaleResolutionDownBy: 1, maxBitrate: 900_000, scalabilityMode: 'L1T3' },
];

export const SCREEN_MAX_BITRATE = 1_500_000;

export const AUDIO: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
};
export const VIDEO: MediaTrackConstraints = {
  width: { ideal: 640 },
  height: { ideal: 480 },
  frameRate: { ideal: 30 },
};

export interface UserTracks {
  mic?: MediaStreamTrack;
  camera?: MediaStreamTrack;
  /** Why one or both devices are missing. */
  error?: string;
}

/** Mic + camera (the remembered ones); if asking for both fails, each is tried on its own. */
export async function getUserTracks(): Promise<UserTracks> {
  const md = navigator.mediaDevices;
  if (!md?.getUserMedia) return { error: NO_MEDIA_DEVICES.message };
  const audio = audioConstraints(AUDIO);
  const video = videoConstraints(VIDEO);
  let tracks: MediaStreamTrack[] = [];
  let error: string | undefined;
  try {
    tracks = (await md.getUserMedia({ audio, video })).getTracks();
  } catch (err) {
    const [mic, cam] = await Promise.allSettled([
      md.getUserMedia({ audio }),
      md.getUserMedia({ video }),
    ]);
    for (const r of [mic, cam]) if (r.status === 'fulfilled') tracks.push(...r.value.getTracks());
    const failed =
      mic.status === 'rejected' && cam.status === 'rejected'
        ? { what: 'camera and microphone', err: mic.reason as unknown }
        : mic.status === 'rejected'
          ? { what: 'microphone', err: mic.reason as unknown }
          : cam.status === 'rejected'
            ? { what: 'camera', err: cam.reason as unknown }
            : { what: 'camera and microphone', err };
    error = mediaProblem(failed.err, failed.what).message;
  }
  return {
    mic: tracks.find((t) => t.kind === 'audio'),
    camera: tracks.find((t) => t.kind === 'video'),
    ...(error ? { error } : {}),
  };
}

/** A screen/window capture track, or null if the user cancelled the picker. */
export async function getScreenTrack(): Promise<MediaStreamTrack | null> {
  if (!navigator.mediaDevices?.getDisplayMedia) {
    throw new Error('Screen sharing is not supported by this browser.');
  }
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({
      video: { frameRate: { max: 15 } },
      audio: false,
    });
    return stream.getVideoTracks()[0] ?? null;
  } catch (err) {
    if (err instanceof DOMException && err.name === 'NotAllowedError') return null;
    throw err;
  }
}

/** Producer options for a source: opus for the mic, simulcast for the camera. */
export function producerOptions(
  source: MediaSource,
  track: MediaStreamTrack,
  device: Device,
): ms.ProducerOptions {
  // Tracks outlive producers (they are re-produced after a rejoin), so never let mediasoup stop them.
  const options: ms.ProducerOptions = { track, stopTracks: false, appData: { source } };
  if (source === 'mic') {
    options.codecOptions = { opusStereo: false, opusDtx: true, opusFec: true };
    const opus = device.rtpCapabilities.codecs?.find(
      (c) => c.mimeType.toLowerCase() === 'audio/opus',
    );
    if (opus) options.codec = opus;
  } else if (source === 'camera') {
    options.encodings = CAMERA_ENCODINGS.map((e) => ({ ...e }));
    options.codecOptions = { videoGoogleStartBitrate: 1000 };
  } else {
    options.encodings = [{ maxBitrate: SCREEN_MAX_BITRATE }];
  }
  return options;
}

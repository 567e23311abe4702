/** Local capture (camera, mic, screen) and the producer settings for each source. */
import type { Device, types as ms } from 'mediasoup-client';
import type { MediaSource } from '../../src/protocol';
import { cameraEncodings, screenEncodings, type CaptureSize } from './simulcast';
import { audioConstraints, videoConstraints } from './devicePrefs';
import { NO_MEDIA_DEVICES, mediaProblem } from './mediaErrors';

export const AUDIO: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
};
/** 720p where the camera has it: a clinician judges skin, wounds and pupils from it. */
export const VIDEO: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
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

/**
 * A track from exactly this camera or microphone (switching mid-call), with the usual
 * constraints; throws a plain-words Error when it cannot be opened.
 */
export async function openDevice(
  source: 'mic' | 'camera',
  deviceId: string,
): Promise<MediaStreamTrack> {
  const md = navigator.mediaDevices;
  if (!md?.getUserMedia) throw new Error(NO_MEDIA_DEVICES.message);
  const exact = { deviceId: { exact: deviceId } };
  try {
    const stream = await md.getUserMedia(
      source === 'mic' ? { audio: { ...AUDIO, ...exact } } : { video: { ...VIDEO, ...exact } },
    );
    const track = stream.getTracks()[0];
    if (!track) throw new Error(`The ${source === 'mic' ? 'microphone' : 'camera'} gave nothing.`);
    return track;
  } catch (err) {
    throw new Error(mediaProblem(err, source === 'mic' ? 'microphone' : 'camera').message);
  }
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
    const track = stream.getVideoTracks()[0] ?? null;
    // Tells the encoder to keep resolution (text, fine detail) and drop frame rate instead.
    if (track) track.contentHint = 'detail';
    return track;
  } catch (err) {
    if (err instanceof DOMException && err.name === 'NotAllowedError') return null;
    throw err;
  }
}

/** The size a video track captures now (0×0 when the browser does not say). */
export function captureSize(track: MediaStreamTrack): CaptureSize {
  const { width = 0, height = 0 } = track.getSettings();
  return { width, height };
}

/**
 * Producer options for a source: opus for the mic, simulcast layers fitted to the capture
 * size for the camera, one full-resolution high-priority layer for the screen.
 */
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
    options.encodings = cameraEncodings(captureSize(track));
    // Enough for Chromium to switch on a 720p top layer from the start (its min is ~600 kbit/s).
    options.codecOptions = { videoGoogleStartBitrate: 1500 };
  } else {
    options.encodings = screenEncodings(captureSize(track));
  }
  return options;
}

/** Asks a sender to keep its resolution and drop frames instead when short of bandwidth or CPU. */
export async function keepResolution(sender: RTCRtpSender | undefined): Promise<void> {
  if (!sender) return;
  const params = sender.getParameters() as RTCRtpSendParameters & {
    degradationPreference?: string;
  };
  params.degradationPreference = 'maintain-resolution';
  // Browsers without the setting keep contentHint's preference, which asks for the same.
  await sender.setParameters(params).catch(() => undefined);
}

/** Changes a live sender's layer sizes and bitrates in place (same number of layers). */
export async function updateEncodings(
  sender: RTCRtpSender,
  encodings: readonly ms.RtpEncodingParameters[],
): Promise<void> {
  const params = sender.getParameters();
  params.encodings.forEach((e, i) => {
    const want = encodings[i];
    if (!want) return;
    if (want.maxBitrate !== undefined) e.maxBitrate = want.maxBitrate;
    if (want.scaleResolutionDownBy !== undefined) {
      e.scaleResolutionDownBy = want.scaleResolutionDownBy;
    }
  });
  await sender.setParameters(params);
}

/** How often a camera producer's capture size is checked (rotation, device or constraint change). */
const CAPTURE_CHECK_MS = 1000;

/**
 * Calls `onChange` when the producer's track starts capturing at another size (a phone
 * rotates, a replaced track, a constraint change), until the producer closes. Browsers fire
 * no event for this, so the track's settings are polled.
 */
export function watchCaptureSize(
  producer: ms.Producer,
  onChange: (size: CaptureSize) => void,
): void {
  let last = producer.track ? captureSize(producer.track) : null;
  const timer = setInterval(() => {
    const track = producer.track;
    if (producer.closed) return clearInterval(timer);
    if (!track || track.readyState !== 'live') return;
    const size = captureSize(track);
    if (last && size.width === last.width && size.height === last.height) return;
    last = size;
    onChange(size);
  }, CAPTURE_CHECK_MS);
  producer.observer.once('close', () => clearInterval(timer));
}

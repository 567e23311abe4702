/**
 * Send encodings from the size a camera or screen actually captures (pure; no browser APIs).
 *
 * Chromium sends only as many simulcast layers as the frame size supports (libwebrtc's
 * simulcast table: three from 960×540, two from 480×270, else one), dropping the top ones it
 * was asked for beyond that. So the camera asks for exactly that many, each half the size
 * of the next, with a bitrate for its own size: the top layer then always exists.
 */
import type { types as ms } from 'mediasoup-client';

export interface CaptureSize {
  width: number;
  height: number;
}

/** Fewest pixels for 3 and for 2 simulcast layers (libwebrtc's kSimulcastFormats). */
const THREE_LAYERS_FROM = 960 * 540;
const TWO_LAYERS_FROM = 480 * 270;

/** Camera bitrate (bit/s) at 30 fps by pixel count; linear in between, proportional below. */
const CAMERA_BITRATES: readonly (readonly [pixels: number, bitrate: number])[] = [
  [320 * 180, 150_000],
  [640 * 360, 500_000],
  [1280 * 720, 1_500_000],
  [1920 * 1080, 2_500_000],
];
const MIN_LAYER_BITRATE = 30_000;

/** Screen share bit/s per pixel: 1920×1080 text at up to 15 fps gets 2.5 Mbit/s. */
const SCREEN_BITS_PER_PIXEL = 1.2;
const SCREEN_MIN_BITRATE = 800_000;
const SCREEN_MAX_BITRATE = 4_000_000;

/** How many simulcast layers Chromium sends for frames of this size. */
export function maxSimulcastLayers(size: CaptureSize): number {
  const pixels = size.width * size.height;
  if (pixels >= THREE_LAYERS_FROM) return 3;
  if (pixels >= TWO_LAYERS_FROM) return 2;
  return 1;
}

/** A fitting camera bitrate for one layer of this many pixels, bit/s. */
export function cameraBitrate(pixels: number): number {
  const table = CAMERA_BITRATES;
  const [firstPixels, firstRate] = table[0]!;
  if (pixels <= firstPixels) {
    return Math.max(MIN_LAYER_BITRATE, Math.round((firstRate * pixels) / firstPixels));
  }
  for (let i = 1; i < table.length; i++) {
    const [p1, r1] = table[i]!;
    if (pixels <= p1) {
      const [p0, r0] = table[i - 1]!;
      return Math.round(r0 + ((r1 - r0) * (pixels - p0)) / (p1 - p0));
    }
  }
  return table[table.length - 1]![1];
}

/**
 * Camera encodings for a capture size, lowest layer first: as many layers as Chromium sends
 * at that size, each half the width of the next (1280×720 → 320×180, 640×360, 1280×720),
 * three temporal layers each. An unknown size (0) gets one layer at the 720p bitrate.
 */
export function cameraEncodings(size: CaptureSize): ms.RtpEncodingParameters[] {
  const count = maxSimulcastLayers(size);
  const pixels = size.width * size.height || 1280 * 720;
  return Array.from({ length: count }, (_, i) => {
    const scale = 2 ** (count - 1 - i);
    return {
      scaleResolutionDownBy: scale,
      maxBitrate: cameraBitrate(pixels / (scale * scale)),
      scalabilityMode: 'L1T3',
    };
  });
}

/**
 * The screen-share encoding: one layer at the source's own size (never scaled down, so text
 * stays legible), a bitrate that carries its detail, sent ahead of camera video.
 */
export function screenEncodings(size: CaptureSize): ms.RtpEncodingParameters[] {
  const pixels = size.width * size.height || 1920 * 1080;
  const maxBitrate = Math.round(
    Math.min(SCREEN_MAX_BITRATE, Math.max(SCREEN_MIN_BITRATE, pixels * SCREEN_BITS_PER_PIXEL)),
  );
  return [{ scaleResolutionDownBy: 1, maxBitrate, priority: 'high', networkPriority: 'high' }];
}

/**
 * What a camera producer sending `current` encodings must do for a new capture size: keep
 * them, update their bitrates in place (same layer count), or be produced again (Chromium
 * cannot add or remove simulcast layers on a live sender).
 */
export function refitCamera(
  current: readonly ms.RtpEncodingParameters[],
  size: CaptureSize,
): { action: 'keep' | 'update' | 'reproduce'; encodings: ms.RtpEncodingParameters[] } {
  const encodings = cameraEncodings(size);
  if (encodings.length !== Math.max(1, current.length)) return { action: 'reproduce', encodings };
  const same = encodings.every(
    (e, i) =>
      e.maxBitrate === current[i]?.maxBitrate &&
      e.scaleResolutionDownBy === (current[i]?.scaleResolutionDownBy ?? 1),
  );
  return { action: same ? 'keep' : 'update', encodings };
}

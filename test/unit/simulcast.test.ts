/**
 * The client's send encodings from the capture size (client/src/simulcast.ts): the camera
 * asks for exactly the simulcast layers Chromium sends at that size, so its top layer exists;
 * the screen is never scaled down. Real browsers sending them: test/e2e/video.e2e.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  cameraBitrate,
  cameraEncodings,
  maxSimulcastLayers,
  refitCamera,
  screenEncodings,
} from '../../client/src/simulcast.js';

/** Each layer's size and bitrate, lowest first. */
const layers = (width: number, height: number) =>
  cameraEncodings({ width, height }).map((e) => ({
    width: width / e.scaleResolutionDownBy!,
    height: height / e.scaleResolutionDownBy!,
    maxBitrate: e.maxBitrate,
  }));

describe('camera simulcast by capture size', () => {
  it('sends three layers at 720p: 320×180, 640×360 and 1280×720 with a 720p-sized top bitrate', () => {
    expect(layers(1280, 720)).toEqual([
      { width: 320, height: 180, maxBitrate: 150_000 },
      { width: 640, height: 360, maxBitrate: 500_000 },
      { width: 1280, height: 720, maxBitrate: 1_500_000 },
    ]);
    for (const e of cameraEncodings({ width: 1280, height: 720 })) {
      expect(e.scalabilityMode).toBe('L1T3');
    }
  });

  it('follows Chromium’s layer limit: 3 from 960×540, 2 from 480×270, else 1', () => {
    expect(maxSimulcastLayers({ width: 1920, height: 1080 })).toBe(3);
    expect(maxSimulcastLayers({ width: 960, height: 540 })).toBe(3);
    expect(maxSimulcastLayers({ width: 959, height: 540 })).toBe(2);
    // The old 640×480 capture: only two layers ever reached the receiver.
    expect(maxSimulcastLayers({ width: 640, height: 480 })).toBe(2);
    expect(maxSimulcastLayers({ width: 480, height: 270 })).toBe(2);
    expect(maxSimulcastLayers({ width: 320, height: 240 })).toBe(1);
    expect(maxSimulcastLayers({ width: 0, height: 0 })).toBe(1);
  });

  it('asks for no layer Chromium would drop: the top layer is the capture size', () => {
    for (const [w, h] of [
      [1920, 1080],
      [1280, 720],
      [720, 1280],
      [640, 480],
      [640, 360],
      [320, 240],
    ] as const) {
      const ls = layers(w, h);
      expect(ls).toHaveLength(maxSimulcastLayers({ width: w, height: h }));
      expect(ls.at(-1)).toMatchObject({ width: w, height: h });
    }
    expect(layers(640, 480)).toEqual([
      { width: 320, height: 240, maxBitrate: expect.any(Number) },
      { width: 640, height: 480, maxBitrate: expect.any(Number) },
    ]);
  });

  it('gives a portrait (rotated) capture the same layers and bitrates as landscape', () => {
    expect(cameraEncodings({ width: 720, height: 1280 })).toEqual(
      cameraEncodings({ width: 1280, height: 720 }),
    );
  });

  it('rises with the pixel count and never falls below 30 kbit/s', () => {
    const sizes = [0, 160 * 90, 320 * 180, 320 * 240, 640 * 480, 1280 * 720, 1920 * 1080, 4e6];
    const rates = sizes.map(cameraBitrate);
    for (let i = 1; i < rates.length; i++) expect(rates[i]).toBeGreaterThanOrEqual(rates[i - 1]!);
    expect(rates[0]).toBe(30_000);
    expect(cameraBitrate(1920 * 1080)).toBe(2_500_000);
  });
});

describe('refitting a live camera producer', () => {
  const hd = cameraEncodings({ width: 1280, height: 720 });

  it('keeps the encodings when the size did not change in pixels (rotation)', () => {
    expect(refitCamera(hd, { width: 720, height: 1280 }).action).toBe('keep');
  });

  it('updates in place when the layer count stays but the size differs', () => {
    const plan = refitCamera(hd, { width: 1920, height: 1080 });
    expect(plan.action).toBe('update');
    expect(plan.encodings.map((e) => e.maxBitrate)).toEqual(
      cameraEncodings({ width: 1920, height: 1080 }).map((e) => e.maxBitrate),
    );
  });

  it('produces again when the layer count must change', () => {
    expect(refitCamera(hd, { width: 640, height: 360 })).toMatchObject({
      action: 'reproduce',
      encodings: [{ scaleResolutionDownBy: 2 }, { scaleResolutionDownBy: 1 }],
    });
    const small = cameraEncodings({ width: 320, height: 240 });
    expect(refitCamera(small, { width: 1280, height: 720 }).action).toBe('reproduce');
  });
});

describe('screen share encoding', () => {
  it('is one full-resolution, high-priority layer with a bitrate for 1080p text', () => {
    const [e, ...rest] = screenEncodings({ width: 1920, height: 1080 });
    expect(rest).toHaveLength(0);
    expect(e).toMatchObject({
      scaleResolutionDownBy: 1,
      priority: 'high',
      networkPriority: 'high',
    });
    expect(e!.maxBitrate).toBeGreaterThanOrEqual(2_400_000);
    expect(e!.maxBitrate).toBeLessThanOrEqual(4_000_000);
  });

  it('keeps at least 800 kbit/s for a small window and at most 4 Mbit/s for a 4K screen', () => {
    expect(screenEncodings({ width: 640, height: 480 })[0]!.maxBitrate).toBe(800_000);
    expect(screenEncodings({ width: 3840, height: 2160 })[0]!.maxBitrate).toBe(4_000_000);
  });
});

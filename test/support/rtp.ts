/** RTP parameters a browser would send for mic and camera, for participants without real media. */

/** Opus RTP parameters as a browser would send them (enough for mediasoup to accept). */
export function audioRtpParameters(ssrc: number) {
  return {
    mid: '0',
    codecs: [
      {
        mimeType: 'audio/opus',
        payloadType: 111,
        clockRate: 48000,
        channels: 2,
        parameters: { minptime: 10, useinbandfec: 1 },
        rtcpFeedback: [{ type: 'transport-cc' }],
      },
    ],
    headerExtensions: [
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 },
      { uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 10 },
    ],
    encodings: [{ ssrc }],
    rtcp: { cname: `cname-${ssrc}`, reducedSize: true },
  };
}

/** VP8 camera RTP parameters with three simulcast encodings, as Chromium sends them. */
export function simulcastVideoRtpParameters(baseSsrc: number) {
  return {
    mid: '1',
    codecs: [
      {
        mimeType: 'video/VP8',
        payloadType: 96,
        clockRate: 90000,
        rtcpFeedback: [
          { type: 'goog-remb' },
          { type: 'transport-cc' },
          { type: 'ccm', parameter: 'fir' },
          { type: 'nack' },
          { type: 'nack', parameter: 'pli' },
        ],
      },
      { mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 96 } },
    ],
    headerExtensions: [
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 },
      { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 3 },
    ],
    encodings: [0, 1, 2].map((i) => ({
      ssrc: baseSsrc + i * 2,
      rtx: { ssrc: baseSsrc + i * 2 + 1 },
      scalabilityMode: 'L1T3',
      scaleResolutionDownBy: 2 ** (2 - i),
    })),
    rtcp: { cname: `cname-${baseSsrc}`, reducedSize: true },
  };
}

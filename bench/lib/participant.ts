/** RTP parameters a browser would send for mic and camera, for participants without media. */
export {
  audioRtpParameters as micRtpParameters,
  simulcastVideoRtpParameters as cameraRtpParameters,
} from '../../test/support/rtp.js';

/** getUserMedia failures in plain words, each with what to do next. */

export type DeviceProblem = 'denied' | 'in_use' | 'none' | 'insecure' | 'error';

export interface MediaProblem {
  problem: DeviceProblem;
  /** One or two sentences: what went wrong and what to do. */
  message: string;
}

/** Where this browser keeps the camera and microphone permission, for the "how to allow" hint. */
function allowHint(ua = typeof navigator === 'undefined' ? '' : navigator.userAgent): string {
  if (/Firefox\//.test(ua))
    return 'In Firefox, click the camera icon at the left of the address bar, remove the “Blocked” permissions, then press Try again.';
  if (/Edg\//.test(ua))
    return 'In Edge, click the lock icon at the left of the address bar, set Camera and Microphone to Allow, then press Try again.';
  if (/iPhone|iPad/.test(ua))
    return 'On an iPhone or iPad, open Settings › Safari › Camera and Microphone, choose Allow, then come back and press Try again.';
  if (/Safari\//.test(ua) && !/Chrome\//.test(ua))
    return 'In Safari, open Safari › Settings for This Website, set Camera and Microphone to Allow, then press Try again.';
  if (/Android/.test(ua))
    return 'In Chrome on Android, tap the icon at the left of the address bar › Permissions, allow Camera and Microphone, then press Try again.';
  return 'In Chrome, click the icon at the left of the address bar, set Camera and Microphone to Allow, then press Try again.';
}

/** What a getUserMedia error means for `what` ("camera", "microphone", "camera and microphone"). */
export function mediaProblem(err: unknown, what: string): MediaProblem {
  const name = err instanceof DOMException || err instanceof Error ? err.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return {
        problem: 'denied',
        message: `This browser is not allowed to use your ${what}. ${allowHint()}`,
      };
    case 'NotReadableError':
    case 'AbortError':
    case 'TrackStartError':
      return {
        problem: 'in_use',
        message: `Your ${what} could not be started: another app (Zoom, Teams, another browser tab) may be using it. Close that app, then press Try again.`,
      };
    case 'NotFoundError':
    case 'OverconstrainedError':
    case 'DevicesNotFoundError':
      return {
        problem: 'none',
        message: `No ${what} was found. Plug one in and press Try again, or continue: the others will still hear or see you with what works.`,
      };
    default:
      return {
        problem: 'error',
        message: `Your ${what} could not be started. Reload the page; if it still fails, try another browser.`,
      };
  }
}

/** When the page cannot ask for devices at all (not https, or a very old browser). */
export const NO_MEDIA_DEVICES: MediaProblem = {
  problem: 'insecure',
  message:
    'This browser cannot use a camera or microphone on this page. Open the link in an up-to-date Chrome, Edge, Firefox or Safari (the address must start with https).',
};

/**
 * Why a join link or grant was refused, in plain words with what to do next; and whether
 * trying again could ever help (a damaged link, an ended consult: it cannot).
 */

export interface Refusal {
  message: string;
  /** Trying the same link again cannot work. */
  final: boolean;
}

export const DAMAGED_LINK: Refusal = {
  message:
    'This link is incomplete or damaged. Open it again from the original e-mail or text message (copy the whole address), or ask the doctor for a new link.',
  final: true,
};

export const EXPIRED_LINK: Refusal = {
  message: 'This link has expired. Please ask the doctor or clinic for a new one.',
  final: true,
};

/** A refusal from the gateway (`code` and its message) for people. */
export function refusal(code: string, serverMessage: string): Refusal {
  const m = serverMessage.toLowerCase();
  if (m.includes('cancelled'))
    return {
      message: 'This consult was cancelled. Contact the clinic to arrange another time.',
      final: true,
    };
  if (m.includes('ended') || m.includes('is over'))
    return {
      message:
        'This consult has ended, so the link no longer works. Contact the clinic if you need another appointment.',
      final: true,
    };
  if (m.includes('invitation is no longer valid') || m.includes('revoked'))
    return {
      message:
        'This invitation was withdrawn or has expired. Please ask the doctor for a new link.',
      final: true,
    };
  if (m.includes('not active'))
    return {
      message: 'Your account is disabled. Contact your administrator.',
      final: true,
    };
  if (m.includes('not a participant') || m.includes('does not exist'))
    return {
      message:
        'This link is not for a consult you are invited to. Check that you opened the right link, or ask the doctor for a new one.',
      final: true,
    };
  if (m.includes('expired')) return EXPIRED_LINK;
  if (code === 'unauthorized' || m.includes('jwt') || m.includes('token')) return DAMAGED_LINK;
  return { message: `Could not join the consult: ${serverMessage}`, final: false };
}

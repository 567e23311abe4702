/** The pre-call check's result for a consult, kept for this tab so `join` can send it. */
import type { Precheck } from '../../src/protocol';

const key = (consultId: string) => `telemed.precheck.${consultId}`;

export function keepPrecheck(consultId: string, result: Precheck): void {
  try {
    sessionStorage.setItem(key(consultId), JSON.stringify(result));
  } catch {
    // Storage disabled: the record simply has no pre-call check for this join.
  }
}

/** The result kept for `consultId`, if this tab ran the check. */
export function precheckFor(consultId: string): Precheck | undefined {
  try {
    const raw = sessionStorage.getItem(key(consultId));
    return raw ? (JSON.parse(raw) as Precheck) : undefined;
  } catch {
    return undefined;
  }
}

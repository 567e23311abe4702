/**
 * The camera, microphone and speaker this browser chose in the pre-call check (localStorage,
 * so the next consult starts with them), turned into getUserMedia constraints and applied to
 * the elements that play the others' audio.
 */
export interface DevicePrefs {
  cameraId?: string;
  micId?: string;
  speakerId?: string;
  /** Phones: the front (`user`) or back (`environment`) camera. */
  facingMode?: 'user' | 'environment';
}

const KEY = 'telemed.devices';

export function loadDevicePrefs(): DevicePrefs {
  try {
    const raw = JSON.parse(localStorage.getItem(KEY) ?? '{}') as unknown;
    if (!raw || typeof raw !== 'object') return {};
    const r = raw as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' && v.length <= 256 ? v : undefined);
    const facing =
      r.facingMode === 'user' || r.facingMode === 'environment' ? r.facingMode : undefined;
    return {
      ...(str(r.cameraId) ? { cameraId: str(r.cameraId) } : {}),
      ...(str(r.micId) ? { micId: str(r.micId) } : {}),
      ...(str(r.speakerId) ? { speakerId: str(r.speakerId) } : {}),
      ...(facing ? { facingMode: facing } : {}),
    };
  } catch {
    return {};
  }
}

/** Merges `change` into the remembered choices (undefined values forget a choice). */
export function saveDevicePrefs(change: Partial<DevicePrefs>): DevicePrefs {
  const next: Record<string, unknown> = { ...loadDevicePrefs(), ...change };
  for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
  try {
    localStorage.setItem(KEY, JSON.stringify(next));
  } catch {
    // Storage disabled: the choice holds for this page only.
  }
  return next as DevicePrefs;
}

/** Audio constraints with the remembered microphone (preferred, not required: it may be gone). */
export function audioConstraints(base: MediaTrackConstraints, prefs = loadDevicePrefs()) {
  return prefs.micId ? { ...base, deviceId: { ideal: prefs.micId } } : base;
}

/** Video constraints with the remembered camera, or the remembered front/back side. */
export function videoConstraints(base: MediaTrackConstraints, prefs = loadDevicePrefs()) {
  if (prefs.facingMode) return { ...base, facingMode: { ideal: prefs.facingMode } };
  return prefs.cameraId ? { ...base, deviceId: { ideal: prefs.cameraId } } : base;
}

type SinkElement = HTMLMediaElement & { setSinkId?: (id: string) => Promise<void> };

/** Whether this browser can choose where audio plays (setSinkId). */
export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
}

/** Plays `el` on the remembered speaker, where the browser allows choosing one. */
export function applySpeaker(el: HTMLMediaElement, prefs = loadDevicePrefs()): void {
  const sink = el as SinkElement;
  if (prefs.speakerId && sink.setSinkId) sink.setSinkId(prefs.speakerId).catch(() => undefined);
}

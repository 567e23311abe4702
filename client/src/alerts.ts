/**
 * Waiting-room alerts for the host: a short two-tone beep (WebAudio) and a browser
 * notification when permitted. Browsers allow sound and the permission prompt only after a
 * click, so `unlockAlerts` is called from one (Start, or the lobby's "Turn on alerts").
 */

let audio: AudioContext | null = null;

/** On a user gesture: lets sound play later and asks once for notification permission. */
export function unlockAlerts(): void {
  try {
    audio ??= new AudioContext();
    void audio.resume().catch(() => undefined);
  } catch {
    // No WebAudio: the notification and the on-page list remain.
  }
  if (typeof Notification !== 'undefined' && Notification.permission === 'default') {
    void Notification.requestPermission().catch(() => undefined);
  }
}

/** Whether a click is still needed before sound or notifications can work. */
export function alertsNeedClick(): boolean {
  const soundBlocked = !audio || audio.state !== 'running';
  const canAsk = typeof Notification !== 'undefined' && Notification.permission === 'default';
  return soundBlocked || canAsk;
}

/** Two short tones; silent if the browser has not allowed sound yet. */
export function beep(): void {
  try {
    audio ??= new AudioContext();
    const ctx = audio;
    if (ctx.state === 'suspended') void ctx.resume().catch(() => undefined);
    const gain = ctx.createGain();
    gain.gain.value = 0.15;
    gain.connect(ctx.destination);
    [880, 1175].forEach((freq, i) => {
      const osc = ctx.createOscillator();
      osc.frequency.value = freq;
      osc.connect(gain);
      const t = ctx.currentTime + i * 0.18;
      osc.start(t);
      osc.stop(t + 0.15);
    });
  } catch {
    // No WebAudio.
  }
}

/** Beeps and, when permitted, shows a notification (it also reaches a host in another tab). */
export function alertArrival(names: string, count: number): void {
  beep();
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  try {
    const n = new Notification('Someone is waiting to be admitted', {
      body: `${names} ${count > 1 ? 'are' : 'is'} in the waiting room.`,
      tag: 'telemed-waiting-room',
    });
    n.onclick = () => {
      window.focus();
      n.close();
    };
  } catch {
    // Some browsers (Android Chrome) allow notifications only from a service worker.
  }
}

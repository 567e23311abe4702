/**
 * The pre-call check: camera preview and picker (front/back switch on phones), microphone
 * picker with a live level meter, speaker picker and test sound, and a network check against
 * the gateway; each with a plain verdict and what to do. Choices are remembered; the result
 * goes to the consult record with the join.
 */
import type { Precheck } from '../../../src/protocol';
import {
  applySpeaker,
  audioConstraints,
  canChooseSpeaker,
  loadDevicePrefs,
  saveDevicePrefs,
  videoConstraints,
} from '../devicePrefs';
import { h } from '../dom';
import { AUDIO, VIDEO } from '../media';
import { NO_MEDIA_DEVICES, mediaProblem } from '../mediaErrors';
import type { DeviceProblem } from '../mediaErrors';
import { checkNetwork, networkAdvice } from '../netcheck';
import type { NetworkResult } from '../netcheck';

export interface PrecallOptions {
  /** The join grant (the network check authenticates with it). */
  token: string;
  /** A button that ends the check, e.g. "Start consult" (none on the waiting page). */
  continueLabel?: string;
  onContinue?(result: Precheck): void;
  /** The result so far, each time it changes once the network check has finished. */
  onChange?(result: Precheck): void;
  /** A camera or microphone was chosen: whoever holds the old one should reopen it. */
  onDevicesChanged?(): void;
}

type Verdict = Precheck['camera'];
/** Above this RMS level the microphone counts as heard (silence with noise is ~0.001). */
const HEARD_LEVEL = 0.01;

const toVerdict = (p: DeviceProblem): Verdict =>
  p === 'denied' || p === 'in_use' || p === 'none' ? p : 'error';

/** One line of the check: a label, a verdict sentence, and its state for styling and tests. */
function row(name: string, testid: string, ...controls: (Node | null)[]) {
  const verdict = h('p', { class: 'precall-verdict', testid: `${testid}-verdict`, role: 'status' });
  const el = h('div', { class: 'precall-row', testid }, h('h3', {}, name), ...controls, verdict);
  const set = (state: string, text: string) => {
    el.dataset.state = state;
    verdict.textContent = text;
  };
  return { el, set };
}

export class PrecallCheck {
  readonly el: HTMLElement;
  private readonly preview = h('video', {
    class: 'precall-preview',
    testid: 'precall-preview',
    autoplay: true,
    muted: true,
    playsinline: true,
  });
  private readonly cameraSelect = h('select', {
    testid: 'precall-camera-select',
    'aria-label': 'Camera',
  });
  private readonly micSelect = h('select', {
    testid: 'precall-mic-select',
    'aria-label': 'Microphone',
  });
  private readonly speakerSelect = h('select', {
    testid: 'precall-speaker-select',
    'aria-label': 'Speaker',
  });
  private readonly flip = h(
    'button',
    { type: 'button', class: 'secondary', testid: 'precall-flip', hidden: true },
    'Switch to back camera',
  );
  private readonly meter = h('meter', {
    class: 'precall-meter',
    testid: 'precall-mic-level',
    min: '0',
    max: '1',
    value: '0',
    'aria-label': 'Microphone level',
  });
  private readonly speakerTest = h(
    'button',
    { type: 'button', class: 'secondary', testid: 'precall-speaker-test' },
    'Play test sound',
  );
  private readonly netAgain = h(
    'button',
    { type: 'button', class: 'secondary', testid: 'precall-network-again', hidden: true },
    'Check again',
  );
  private readonly retry = h(
    'button',
    { type: 'button', class: 'primary', testid: 'precall-retry', hidden: true },
    'Try again',
  );
  private readonly next: HTMLButtonElement | null;
  private readonly camera = row('Camera', 'precall-camera', this.cameraSelect, this.flip);
  private readonly mic = row('Microphone', 'precall-mic', this.micSelect, this.meter);
  private readonly speaker = row(
    'Speaker',
    'precall-speaker',
    this.speakerSelect,
    this.speakerTest,
  );
  private readonly network = row('Connection', 'precall-network', this.netAgain);

  private cameraTrack: MediaStreamTrack | null = null;
  private micTrack: MediaStreamTrack | null = null;
  private cameraVerdict: Verdict = 'skipped';
  private micVerdict: Verdict = 'skipped';
  private micHeard = false;
  private speakerTested = false;
  private netResult: Promise<NetworkResult> | null = null;
  private audio: AudioContext | null = null;
  private levelTimer: ReturnType<typeof setInterval> | null = null;
  private destroyed = false;
  private readonly watch: ReturnType<typeof setInterval>;
  private lastNetwork: NetworkResult | null = null;

  constructor(private readonly opts: PrecallOptions) {
    this.next = opts.continueLabel
      ? h(
          'button',
          { type: 'button', class: 'primary', testid: 'precall-continue' },
          opts.continueLabel,
        )
      : null;
    this.speakerSelect.hidden = !canChooseSpeaker();
    this.el = h(
      'section',
      { class: 'precall', testid: 'precall', 'aria-labelledby': 'precall-h' },
      h('h2', { id: 'precall-h' }, 'Check your camera, microphone and connection'),
      this.preview,
      this.camera.el,
      this.mic.el,
      this.speaker.el,
      this.network.el,
      h('div', { class: 'precall-actions' }, this.retry, this.next),
    );
    this.cameraSelect.addEventListener('change', () => {
      saveDevicePrefs({ cameraId: this.cameraSelect.value, facingMode: undefined });
      void this.startCamera();
      opts.onDevicesChanged?.();
    });
    this.micSelect.addEventListener('change', () => {
      saveDevicePrefs({ micId: this.micSelect.value });
      void this.startMic();
      opts.onDevicesChanged?.();
    });
    this.speakerSelect.addEventListener('change', () => {
      saveDevicePrefs({ speakerId: this.speakerSelect.value });
    });
    this.flip.addEventListener('click', () => {
      const back = loadDevicePrefs().facingMode !== 'environment';
      saveDevicePrefs({ facingMode: back ? 'environment' : 'user', cameraId: undefined });
      void this.startCamera();
      opts.onDevicesChanged?.();
    });
    this.speakerTest.addEventListener('click', () => void this.playTestSound());
    this.netAgain.addEventListener('click', () => void this.runNetwork());
    this.retry.addEventListener('click', () => void this.startDevices());
    this.next?.addEventListener('click', () => void this.finish());
    // Browsers start audio only after a tap: any tap here resumes the level meter.
    this.el.addEventListener('pointerdown', () => void this.audio?.resume());
    void this.startDevices();
    void this.runNetwork();
    // Closed by removing it from the page (a panel toggled away): release the devices.
    let seen = false;
    this.watch = setInterval(() => {
      if (this.el.isConnected) seen = true;
      else if (seen) this.destroy();
    }, 500);
  }

  /** Stops the preview and the meter (the consult page opens its own devices). */
  destroy(): void {
    this.destroyed = true;
    clearInterval(this.watch);
    this.cameraTrack?.stop();
    this.micTrack?.stop();
    if (this.levelTimer) clearInterval(this.levelTimer);
    void this.audio?.close().catch(() => undefined);
  }

  private async startDevices(): Promise<void> {
    this.retry.hidden = true;
    if (!navigator.mediaDevices?.getUserMedia) {
      this.camera.set('insecure', NO_MEDIA_DEVICES.message);
      this.mic.set('insecure', '');
      this.cameraVerdict = this.micVerdict = 'error';
      return;
    }
    await Promise.all([this.startCamera(), this.startMic()]);
    await this.listDevices();
  }

  private async startCamera(): Promise<void> {
    this.cameraTrack?.stop();
    this.camera.set('checking', 'Starting your camera…');
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(VIDEO) });
      if (this.destroyed) return stream.getTracks().forEach((t) => t.stop());
      this.cameraTrack = stream.getVideoTracks()[0] ?? null;
      this.preview.srcObject = stream;
      this.cameraVerdict = 'ok';
      this.camera.set('ok', 'Your camera works: check that your face is well lit and in view.');
      this.changed();
    } catch (err) {
      const p = mediaProblem(err, 'camera');
      this.cameraVerdict = toVerdict(p.problem);
      this.camera.set(p.problem, p.message);
      this.retry.hidden = false;
      this.changed();
    }
    await this.listDevices();
  }

  private async startMic(): Promise<void> {
    this.micTrack?.stop();
    if (this.levelTimer) clearInterval(this.levelTimer);
    this.mic.set('checking', 'Starting your microphone…');
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: audioConstraints(AUDIO) });
      if (this.destroyed) return stream.getTracks().forEach((t) => t.stop());
      this.micTrack = stream.getAudioTracks()[0] ?? null;
      this.micVerdict = 'ok';
      this.mic.set(
        'ok',
        'Say something: the bar should move. If it does not, choose another microphone.',
      );
      this.meterOn(stream);
    } catch (err) {
      const p = mediaProblem(err, 'microphone');
      this.micVerdict = toVerdict(p.problem);
      this.mic.set(p.problem, p.message);
      this.retry.hidden = false;
      this.changed();
    }
    await this.listDevices();
  }

  /** The live level (RMS of the waveform) from an AnalyserNode, a few times a second. */
  private meterOn(stream: MediaStream): void {
    this.audio ??= new AudioContext();
    void this.audio.resume().catch(() => undefined);
    const analyser = this.audio.createAnalyser();
    analyser.fftSize = 1024;
    this.audio.createMediaStreamSource(stream).connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    this.levelTimer = setInterval(() => {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      const rms = Math.sqrt(sum / buf.length);
      // A speaking voice is ~0.05–0.3 RMS: scale so it fills most of the bar.
      const level = Math.min(1, rms * 4);
      this.meter.value = level;
      this.meter.dataset.level = level.toFixed(3);
      if (rms > HEARD_LEVEL && !this.micHeard) {
        this.micHeard = true;
        this.mic.set('ok', 'Your microphone works: we can hear you.');
        this.changed();
      }
    }, 100);
  }

  /** Fills the pickers; labels exist only once a device was allowed. */
  private async listDevices(): Promise<void> {
    let devices: MediaDeviceInfo[];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      return;
    }
    const prefs = loadDevicePrefs();
    const fill = (
      select: HTMLSelectElement,
      kind: MediaDeviceKind,
      current: string | undefined,
    ) => {
      const list = devices.filter((d) => d.kind === kind && d.deviceId);
      select.replaceChildren(
        ...list.map((d, i) =>
          h(
            'option',
            { value: d.deviceId },
            d.label || `${kind.replace(/input|output/, '')} ${i + 1}`,
          ),
        ),
      );
      if (current && list.some((d) => d.deviceId === current)) select.value = current;
      select.disabled = list.length < 2;
      return list.length;
    };
    const camId = this.cameraTrack?.getSettings().deviceId ?? prefs.cameraId;
    const micId = this.micTrack?.getSettings().deviceId ?? prefs.micId;
    const cameras = fill(this.cameraSelect, 'videoinput', camId);
    fill(this.micSelect, 'audioinput', micId);
    const speakers = fill(this.speakerSelect, 'audiooutput', prefs.speakerId);
    if (!speakers) this.speakerSelect.hidden = true;
    // Phones name their cameras by side: offer the switch when there is more than one.
    this.flip.hidden = !(cameras > 1 && navigator.maxTouchPoints > 0);
    this.flip.textContent =
      prefs.facingMode === 'environment' ? 'Switch to front camera' : 'Switch to back camera';
  }

  /** A short tone on the chosen speaker (setSinkId where the browser supports it). */
  private async playTestSound(): Promise<void> {
    this.audio ??= new AudioContext();
    await this.audio.resume().catch(() => undefined);
    const osc = this.audio.createOscillator();
    const gain = this.audio.createGain();
    const out = this.audio.createMediaStreamDestination();
    osc.frequency.value = 660;
    gain.gain.value = 0.2;
    osc.connect(gain).connect(out);
    const el = new Audio();
    el.srcObject = out.stream;
    applySpeaker(el);
    osc.start();
    osc.stop(this.audio.currentTime + 0.8);
    await el.play().catch(() => undefined);
    setTimeout(() => {
      el.srcObject = null;
    }, 1000);
    this.speakerTested = true;
    this.speaker.set(
      'tested',
      'You should have heard a tone. If not, turn up the volume, unmute this device, or choose another speaker.',
    );
    this.changed();
  }

  private runNetwork(): Promise<NetworkResult> {
    this.netAgain.hidden = true;
    this.network.set(
      'checking',
      'Checking your connection to the consult service and its media server…',
    );
    const run = checkNetwork(this.opts.token).then(({ result, ports }) => {
      if (this.netResult === run && !this.destroyed) {
        this.network.set(result.verdict, networkAdvice(result, ports));
        this.network.el.dataset.verdict = result.verdict;
        this.network.el.dataset.path = result.path;
        this.lastNetwork = result;
        this.changed();
        this.network.el.dataset.rttMs = String(result.rttMs ?? '');
        this.netAgain.hidden = false;
      }
      return result;
    });
    this.netResult = run;
    return run;
  }

  /** Tells `onChange` the result so far (only once there is a network figure to report). */
  private changed(): void {
    if (this.lastNetwork && !this.destroyed) this.opts.onChange?.(this.snapshot(this.lastNetwork));
  }

  /** The result as the record keeps it (waits for a network check still running). */
  async result(): Promise<Precheck> {
    return this.snapshot(await (this.netResult ?? this.runNetwork()));
  }

  private snapshot(network: NetworkResult): Precheck {
    return {
      camera: this.cameraVerdict,
      microphone: this.micVerdict,
      micHeard: this.micHeard,
      speakerTested: this.speakerTested,
      network,
      at: new Date().toISOString(),
    };
  }

  private async finish(): Promise<void> {
    if (this.next) this.next.disabled = true;
    const result = await this.result();
    if (this.destroyed) return;
    this.destroy();
    this.opts.onContinue?.(result);
  }
}

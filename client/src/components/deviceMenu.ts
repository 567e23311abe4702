/**
 * The consult room's device picker: camera, microphone and speaker during the call. A new
 * camera or microphone replaces the track the others receive (no re-join); the speaker moves
 * every remote audio element (setSinkId; hidden where the browser cannot choose). Choices are
 * remembered like the pre-call check's.
 */
import { applySpeaker, canChooseSpeaker, loadDevicePrefs, saveDevicePrefs } from '../devicePrefs';
import { h } from '../dom';
import { icon } from '../icons';

export interface DeviceMenuOptions {
  /** Switches the call's camera or microphone to this device. */
  switchDevice(source: 'mic' | 'camera', deviceId: string): Promise<void>;
  /** The track the call sends now for a source, to show it as chosen. */
  current(source: 'mic' | 'camera'): MediaStreamTrack | undefined;
  /** Where the others' audio plays (their `audio` elements live under it). */
  audioRoot: HTMLElement;
}

export class DeviceMenu {
  readonly el: HTMLDetailsElement;
  private readonly camera = h('select', { testid: 'device-camera', 'aria-label': 'Camera' });
  private readonly mic = h('select', { testid: 'device-mic', 'aria-label': 'Microphone' });
  private readonly speaker = h('select', { testid: 'device-speaker', 'aria-label': 'Speaker' });
  private readonly speakerLabel: HTMLLabelElement;

  constructor(private readonly opts: DeviceMenuOptions) {
    this.speakerLabel = h('label', {}, 'Speaker', this.speaker);
    this.el = h(
      'details',
      { class: 'device-menu', testid: 'device-menu' },
      h(
        'summary',
        { class: 'control', 'aria-label': 'Choose camera, microphone and speaker' },
        icon('devices'),
        h('span', { class: 'control-label' }, 'Devices'),
      ),
      h(
        'div',
        { class: 'device-menu-body' },
        h('label', {}, 'Camera', this.camera),
        h('label', {}, 'Microphone', this.mic),
        this.speakerLabel,
      ),
    );
    this.el.addEventListener('toggle', () => {
      if (this.el.open) void this.refresh();
    });
    for (const [select, source] of [
      [this.camera, 'camera'],
      [this.mic, 'mic'],
    ] as const) {
      select.addEventListener('change', () => {
        select.disabled = true;
        void opts.switchDevice(source, select.value).finally(() => this.refresh());
      });
    }
    this.speaker.addEventListener('change', () => {
      const prefs = saveDevicePrefs({ speakerId: this.speaker.value });
      for (const el of opts.audioRoot.querySelectorAll('audio')) applySpeaker(el, prefs);
    });
    navigator.mediaDevices?.addEventListener?.('devicechange', () => {
      if (this.el.open) void this.refresh();
    });
  }

  /** Lists the devices (labels exist once one was allowed) with the ones in use chosen. */
  async refresh(): Promise<void> {
    let devices: MediaDeviceInfo[] = [];
    try {
      devices = (await navigator.mediaDevices?.enumerateDevices()) ?? [];
    } catch {
      // No list: the pickers stay empty.
    }
    const prefs = loadDevicePrefs();
    const fill = (select: HTMLSelectElement, kind: MediaDeviceKind, current?: string) => {
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
      select.disabled = list.length === 0;
      return list.length;
    };
    fill(
      this.camera,
      'videoinput',
      this.opts.current('camera')?.getSettings().deviceId ?? prefs.cameraId,
    );
    fill(this.mic, 'audioinput', this.opts.current('mic')?.getSettings().deviceId ?? prefs.micId);
    const speakers = fill(this.speaker, 'audiooutput', prefs.speakerId);
    this.speakerLabel.hidden = !canChooseSpeaker() || speakers === 0;
  }

  /** Closes the menu and its pickers once the call is over. */
  setEnabled(enabled: boolean): void {
    if (!enabled) this.el.open = false;
    this.el.hidden = !enabled;
  }
}

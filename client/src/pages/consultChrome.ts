/**
 * The consult room's frame around the media: call controls (labels, icons, disabled after the
 * end), keyboard shortcuts, the side panel as a drawer on narrow screens, and what the page says
 * once the call is over. Writes to the DOM only what changed.
 */
import { append, h } from '../dom';
import { icon } from '../icons';
import type { IconName } from '../icons';
import type { LocalState } from '../types';
import type { ConsultUi } from './consultLayout';

export interface ChromeActions {
  toggleMic(): void;
  toggleCamera(): void;
}

/** Where the call stands, for the controls. */
export interface CallPhase {
  /** Connecting, waiting, joined or rejoining. */
  active: boolean;
  /** Left, ended or denied: the controls are off and the devices released. */
  finished: boolean;
}

/** What the page says after the call. */
export interface AfterCall {
  /** This page had a camera or microphone, now stopped. */
  released: boolean;
  /** What happens next, in a sentence or two (the banner above has the links). */
  next: string;
}

function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function setAttr(el: Element, name: string, value: string): void {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

/** True when a key press belongs to what the user is typing. */
function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return (
    target.isContentEditable ||
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement
  );
}

export class ConsultChrome {
  private readonly icons = new Map<HTMLButtonElement, IconName>();
  private readonly onKey = (event: KeyboardEvent) => this.shortcut(event);
  private drawerFor: 'chat' | 'lobby' | null = null;

  constructor(
    private readonly ui: ConsultUi,
    private readonly actions: ChromeActions,
  ) {
    ui.chatToggle.addEventListener('click', () => this.toggleDrawer('chat'));
    ui.lobbyToggle.addEventListener('click', () => this.toggleDrawer('lobby'));
    ui.panelClose.addEventListener('click', () => this.closeDrawer());
    document.addEventListener('keydown', this.onKey);
    ui.mute.title = 'Mute or unmute (M)';
    ui.camera.title = 'Camera on or off (V)';
  }

  /** In a call the page fills the window; on narrow screens the side panel becomes a drawer. */
  setInCall(inCall: boolean): void {
    const value = inCall ? 'on' : 'off';
    if (document.body.dataset.call !== value) document.body.dataset.call = value;
    if (!inCall) this.closeDrawer();
  }

  /** Opens the side panel as a drawer, scrolled to the chat or the waiting room. */
  openDrawer(focus: 'chat' | 'lobby'): void {
    this.drawerFor = focus;
    this.ui.panel.classList.add('open');
    setAttr(this.ui.chatToggle, 'aria-expanded', String(focus === 'chat'));
    setAttr(this.ui.lobbyToggle, 'aria-expanded', String(focus === 'lobby'));
    const target = focus === 'chat' ? this.ui.chatSlot : this.ui.lobbyPanelSlot;
    target.scrollIntoView({ block: 'start' });
    if (focus === 'chat') this.ui.chatSlot.querySelector<HTMLElement>('textarea')?.focus();
    else this.ui.panelClose.focus();
  }

  closeDrawer(): void {
    if (!this.drawerFor) return;
    const from = this.drawerFor === 'chat' ? this.ui.chatToggle : this.ui.lobbyToggle;
    this.drawerFor = null;
    this.ui.panel.classList.remove('open');
    setAttr(this.ui.chatToggle, 'aria-expanded', 'false');
    setAttr(this.ui.lobbyToggle, 'aria-expanded', 'false');
    if (this.ui.panel.contains(document.activeElement)) from.focus();
  }

  /** The waiting-room toggle (for hosts): shown in the call, with how many wait. */
  setLobby(visible: boolean, waiting: number): void {
    this.ui.lobbyToggle.hidden = !visible;
    this.ui.lobbyBadge.hidden = waiting === 0;
    setText(this.ui.lobbyBadge, String(waiting));
    setAttr(
      this.ui.lobbyToggle,
      'aria-label',
      waiting ? `Open the waiting room (${waiting} waiting)` : 'Open the waiting room',
    );
  }

  /** Labels and enables the controls for the local state. */
  renderControls(s: LocalState, phase: CallPhase): void {
    const { ui } = this;
    if (phase.finished) {
      this.control(ui.mute, 'micOff', 'Mic off', 'Microphone released', null);
      this.control(ui.camera, 'cameraOff', 'Camera off', 'Camera released', null);
      ui.mute.disabled = true;
      ui.camera.disabled = true;
      ui.screen.disabled = true;
      ui.leave.disabled = true;
      ui.end.disabled = true;
      return;
    }
    ui.end.disabled = false;
    this.control(
      ui.mute,
      s.micMuted ? 'micOff' : 'mic',
      s.micMuted ? 'Unmute' : 'Mute',
      s.micMuted ? 'Unmute microphone' : 'Mute microphone',
      s.micMuted,
    );
    ui.mute.disabled = s.joined && !s.hasMic;
    this.control(
      ui.camera,
      s.cameraOff ? 'cameraOff' : 'camera',
      s.cameraOff ? 'Start camera' : 'Stop camera',
      s.cameraOff ? 'Start camera' : 'Stop camera',
      s.cameraOff,
    );
    ui.camera.disabled = s.joined && !s.hasCamera;
    this.control(
      ui.screen,
      'screen',
      s.sharing ? 'Stop sharing' : 'Share screen',
      s.sharing ? 'Stop sharing your screen' : 'Share your screen',
      s.sharing,
    );
    ui.screen.disabled = !s.joined && !s.sharing;
    ui.leave.disabled = !phase.active;
  }

  /** After the call: devices released, and what happens next; null hides it. */
  showAfter(after: AfterCall | null): void {
    const { ui } = this;
    ui.after.hidden = !after;
    ui.after.replaceChildren();
    if (!after) return;
    append(
      ui.after,
      after.released
        ? h('p', { testid: 'devices-released' }, 'Your camera and microphone are off and released.')
        : null,
      h('p', { testid: 'after-next' }, after.next),
    );
  }

  destroy(): void {
    document.removeEventListener('keydown', this.onKey);
    delete document.body.dataset.call;
  }

  private control(
    button: HTMLButtonElement,
    name: IconName,
    label: string,
    ariaLabel: string,
    pressed: boolean | null,
  ): void {
    if (this.icons.get(button) !== name) {
      this.icons.set(button, name);
      button.querySelector('svg')?.replaceWith(icon(name));
    }
    const text = button.querySelector('.control-label');
    if (text) setText(text, label);
    setAttr(button, 'aria-label', ariaLabel);
    if (pressed === null) button.removeAttribute('aria-pressed');
    else setAttr(button, 'aria-pressed', String(pressed));
  }

  private toggleDrawer(focus: 'chat' | 'lobby'): void {
    if (this.drawerFor === focus) this.closeDrawer();
    else this.openDrawer(focus);
  }

  private shortcut(event: KeyboardEvent): void {
    if (event.key === 'Escape' && this.drawerFor) {
      this.closeDrawer();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (typing(event.target)) return;
    const key = event.key.toLowerCase();
    if (key === 'm' && !this.ui.mute.disabled) this.actions.toggleMic();
    else if (key === 'v' && !this.ui.camera.disabled) this.actions.toggleCamera();
    else return;
    event.preventDefault();
  }
}

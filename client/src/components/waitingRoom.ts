/**
 * What a participant sees while waiting to be admitted, besides "waiting": the pre-call check
 * (its result is kept for the join that follows admission) and the host's short messages.
 */
import { h } from '../dom';
import { formatClockShort } from '../format';
import { keepPrecheck } from '../precheck';
import { PrecallCheck } from './precall';

export interface WaitingRoomOptions {
  /** The join grant and its consult, once known. */
  grant(): { token: string; consultId: string } | null;
  /** The check chose another camera or microphone: reopen the call's own. */
  reopenMedia(): void;
}

export class WaitingRoomExtras {
  readonly el: HTMLElement;
  private readonly messages = h('div', {
    class: 'host-messages',
    testid: 'host-messages',
    'aria-live': 'polite',
  });
  private precall: PrecallCheck | null = null;

  constructor(private readonly opts: WaitingRoomOptions) {
    this.el = h(
      'div',
      { class: 'waiting-extras', testid: 'waiting-extras', hidden: true },
      this.messages,
    );
  }

  /** Shows the check while waiting; stops it (and its devices) once admitted or gone. */
  setWaiting(waiting: boolean): void {
    this.el.hidden = !waiting;
    if (waiting && !this.precall) {
      const grant = this.opts.grant();
      if (!grant) return;
      this.precall = new PrecallCheck({
        token: grant.token,
        onChange: (result) => keepPrecheck(grant.consultId, result),
        onDevicesChanged: () => this.opts.reopenMedia(),
      });
      this.el.append(this.precall.el);
    } else if (!waiting && this.precall) {
      this.precall.destroy();
      this.precall.el.remove();
      this.precall = null;
    }
    if (!waiting) this.messages.replaceChildren();
  }

  /** A message from the host, newest first. */
  hostMessage(msg: { text: string; at: string; from: string }): void {
    this.messages.prepend(
      h(
        'p',
        { class: 'message message-info host-message', testid: 'host-message' },
        h('strong', {}, `${msg.from} (${formatClockShort(msg.at)}): `),
        msg.text,
      ),
    );
    while (this.messages.childElementCount > 5) this.messages.lastElementChild?.remove();
  }

  destroy(): void {
    this.setWaiting(false);
  }
}

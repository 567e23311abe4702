/**
 * Optional e-mail delivery of invite links through the SMTP server the operator configures
 * (SMTP_URL). Never required: without it, or when sending fails, the host copies the link;
 * the result says which, so the host knows whether to send it themselves.
 */
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type { Logger } from '../logger.js';

/** What happened to one invite's e-mail. */
export type EmailStatus = 'sent' | 'failed' | 'not_configured' | 'no_address';

export interface InviteMail {
  to: string | null;
  guestName: string;
  consultTitle: string;
  /** When the consult starts (ms). */
  start: number;
  url: string;
}

export class InviteMailer {
  readonly #transport: Transporter | null;

  constructor(
    smtp: { url: string | undefined; from: string },
    private readonly logger: Logger,
  ) {
    this.#transport = smtp.url
      ? nodemailer.createTransport(
          {
            url: smtp.url,
            // A slow or dead mail server must not hold up scheduling for long.
            connectionTimeout: 5000,
            greetingTimeout: 5000,
            socketTimeout: 10_000,
          },
          { from: smtp.from },
        )
      : null;
  }

  get configured(): boolean {
    return this.#transport !== null;
  }

  /** Sends one invite; never throws (a failure is logged and reported as `failed`). */
  async send(mail: InviteMail): Promise<EmailStatus> {
    if (!this.#transport) return 'not_configured';
    if (!mail.to) return 'no_address';
    const when = new Date(mail.start).toUTCString();
    try {
      await this.#transport.sendMail({
        to: mail.to,
        subject: `Your video consult: ${mail.consultTitle}`,
        text: [
          `Hello ${mail.guestName},`,
          '',
          `You are invited to a video consult, "${mail.consultTitle}", on ${when}.`,
          'Open this link a few minutes before, on a phone or a computer with a camera:',
          '',
          mail.url,
          '',
          'The link is personal: please do not forward it. The doctor admits you from the waiting room.',
        ].join('\n'),
      });
      return 'sent';
    } catch (err) {
      this.logger.warn({ err, consultTitle: mail.consultTitle }, 'invite e-mail could not be sent');
      return 'failed';
    }
  }

  close(): void {
    this.#transport?.close();
  }
}

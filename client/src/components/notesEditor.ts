/**
 * The host's private notes and outcome summary: two text areas with length counters, Save
 * (also Ctrl/⌘+Enter), "saved at" / "unsaved changes", and errors. Used on the consult page
 * (during the consult) and the record page (after it).
 */
import type { ConsultNotes, SavedNotes } from '../api';
import { field, h } from '../dom';
import { formatFull } from '../format';
import { busy, messageBox } from './message';

/** The server's limits (src/http/routes/records.ts `notesBody`). */
export const NOTES_MAX = 20_000;
export const OUTCOME_MAX = 4_000;

export interface StoredNotes {
  notes: string;
  outcome: string;
  updatedAt: string | null;
}

export interface NotesEditorOptions {
  save(body: ConsultNotes): Promise<SavedNotes>;
  /** The notes saved so far (null: none yet). */
  initial?: StoredNotes | null;
  /** Fetches the saved notes when the editor is first shown (instead of `initial`). */
  load?: () => Promise<StoredNotes | null>;
  /** Set when the notes cannot be written now (e.g. the consult has not started). */
  disabledReason?: string;
}

function counter(input: HTMLTextAreaElement, max: number, el: HTMLElement): void {
  const n = input.value.length;
  el.textContent = `${n.toLocaleString()} / ${max.toLocaleString()}`;
  el.classList.toggle('near-limit', n > max * 0.9);
}

export class NotesEditor {
  readonly el: HTMLElement;
  private readonly notes: HTMLTextAreaElement;
  private readonly outcome: HTMLTextAreaElement;
  private readonly saveButton: HTMLButtonElement;
  private readonly state: HTMLElement;
  private readonly message = messageBox('notes-message');
  private readonly notesCount = h('small', { class: 'counter', 'aria-live': 'off' });
  private readonly outcomeCount = h('small', { class: 'counter', 'aria-live': 'off' });
  private saved: StoredNotes = { notes: '', outcome: '', updatedAt: null };
  private loaded = false;
  private readonly onBeforeUnload = (event: BeforeUnloadEvent) => {
    if (this.dirty) event.preventDefault();
  };

  constructor(private readonly opts: NotesEditorOptions) {
    this.notes = h('textarea', {
      testid: 'notes-input',
      class: 'prose',
      rows: 8,
      maxlength: NOTES_MAX,
      placeholder: 'Findings, history, plan… (visible to you and administrators only)',
    });
    this.outcome = h('textarea', {
      testid: 'outcome-input',
      class: 'prose',
      rows: 3,
      maxlength: OUTCOME_MAX,
      placeholder: 'e.g. Referred to cardiology; follow-up in 2 weeks',
    });
    this.saveButton = h(
      'button',
      { type: 'submit', class: 'primary', testid: 'notes-save' },
      'Save notes',
    );
    this.state = h('span', { class: 'notes-state muted', testid: 'notes-state', role: 'status' });
    const form = h(
      'form',
      { class: 'notes-editor', testid: 'notes-editor', novalidate: true },
      field('Notes', this.notes),
      this.notesCount,
      field('Outcome', this.outcome),
      this.outcomeCount,
      this.message.el,
      h('div', { class: 'notes-actions' }, this.state, this.saveButton),
    );
    this.el = form;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.save();
    });
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void this.save();
      }
    });
    for (const [input, max, count] of [
      [this.notes, NOTES_MAX, this.notesCount],
      [this.outcome, OUTCOME_MAX, this.outcomeCount],
    ] as const) {
      input.addEventListener('input', () => {
        counter(input, max, count);
        this.renderState();
      });
    }
    window.addEventListener('beforeunload', this.onBeforeUnload);
    if (opts.initial !== undefined || !opts.load) this.setSaved(opts.initial ?? null);
    else this.setEnabled(false, 'Loading the saved notes…');
  }

  /** True when what is typed differs from what the server has. */
  get dirty(): boolean {
    return this.notes.value !== this.saved.notes || this.outcome.value !== this.saved.outcome;
  }

  /** Loads the saved notes once (when `load` was given); call when the editor is shown. */
  async start(): Promise<void> {
    if (this.loaded || !this.opts.load) return;
    this.loaded = true;
    try {
      this.setSaved(await this.opts.load());
    } catch (err) {
      this.setSaved(null);
      this.message.show(
        'error',
        `The saved notes could not be loaded (${err instanceof Error ? err.message : String(err)}). ` +
          'Saving now would replace them.',
      );
    }
  }

  destroy(): void {
    window.removeEventListener('beforeunload', this.onBeforeUnload);
  }

  private setSaved(stored: StoredNotes | null): void {
    this.saved = stored ?? { notes: '', outcome: '', updatedAt: null };
    this.notes.value = this.saved.notes;
    this.outcome.value = this.saved.outcome;
    counter(this.notes, NOTES_MAX, this.notesCount);
    counter(this.outcome, OUTCOME_MAX, this.outcomeCount);
    this.setEnabled(!this.opts.disabledReason, this.opts.disabledReason);
  }

  private setEnabled(enabled: boolean, reason?: string): void {
    this.notes.disabled = this.outcome.disabled = this.saveButton.disabled = !enabled;
    if (reason) this.state.textContent = reason;
    else this.renderState();
  }

  private renderState(): void {
    if (this.opts.disabledReason) return;
    this.state.textContent = this.dirty
      ? 'Unsaved changes'
      : this.saved.updatedAt
        ? `Saved ${formatFull(this.saved.updatedAt)}`
        : 'Nothing saved yet';
    this.state.classList.toggle('dirty', this.dirty);
  }

  async save(): Promise<void> {
    if (this.saveButton.disabled) return;
    this.message.clear();
    if (this.notes.value.length > NOTES_MAX || this.outcome.value.length > OUTCOME_MAX) {
      this.message.show('error', 'The notes or the outcome are too long.');
      return;
    }
    const body = { notes: this.notes.value, outcome: this.outcome.value };
    await busy(this.saveButton, async () => {
      try {
        const saved = await this.opts.save(body);
        // Keep anything typed while the save was in flight.
        this.saved = { notes: saved.notes, outcome: saved.outcome, updatedAt: saved.updatedAt };
        this.renderState();
      } catch (err) {
        this.message.error(err);
      }
    });
  }
}

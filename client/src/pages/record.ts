/**
 * /consults/:id/record: what happened in a consult. Header (times, duration, how it ended),
 * participants with every join and leave and their time present, quality charts, the
 * timeline, the chat transcript, the host's notes and outcome, and the FHIR R4 export.
 */
import { ApiError, errorMessage } from '../api';
import type { ConsultRecord, RecordChat, RecordParticipant } from '../api';
import { Auth } from '../auth';
import type { AppContext } from '../context';
import { formatRange, h } from '../dom';
import { formatClock, formatDuration, formatFull, reasonText } from '../format';
import { busy, messageBox } from '../components/message';
import { NotesEditor } from '../components/notesEditor';
import { qualityBlock } from '../components/qualityChart';
import type { TimeDomain } from '../components/qualityChart';
import { recordTimeline } from '../components/recordTimeline';
import { shell } from '../components/shell';
import { statusBadge } from '../components/status';
import { roleLabel } from '../tiles';
import type { Precheck } from '../../../src/protocol';
import { isRole } from '../../../src/protocol/roles';
import { networkLabel } from '../network';
import type { Cleanup } from '../router';

const role = (r: string) => (isRole(r) ? roleLabel(r) : r);

function networkCell(value: string | null | undefined): HTMLElement {
  const { text, title } = networkLabel(value);
  return h('td', { title: title || undefined, testid: 'record-network' }, text);
}

function card(id: string, title: string, ...children: (Node | null)[]): HTMLElement {
  return h(
    'section',
    { class: 'card', 'aria-labelledby': id },
    h('h2', { id }, title),
    ...children,
  );
}

function facts(pairs: [string, Node | string][], testid?: string): HTMLElement {
  return h(
    'dl',
    { class: 'record-facts', testid },
    ...pairs.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  );
}

function header(r: ConsultRecord): HTMLElement {
  const when = (iso: string | null) =>
    iso ? h('time', { datetime: iso }, formatFull(iso)) : h('span', { class: 'muted' }, '—');
  const ended =
    r.status === 'interrupted'
      ? 'Interrupted: the gateway stopped while the consult was live'
      : reasonText(r.endReason);
  return facts(
    [
      ['Patient ref.', r.patientRef],
      ['Scheduled', formatRange(r.scheduledStart, r.scheduledEnd)],
      ['Started', when(r.startedAt)],
      ['Ended', when(r.endedAt)],
      [
        'Duration',
        h(
          'span',
          { testid: 'record-consult-duration' },
          formatDuration(r.durationSeconds),
          r.status === 'live' ? h('span', { class: 'muted' }, ' so far') : null,
        ),
      ],
      ['How it ended', ended ? ended.charAt(0).toUpperCase() + ended.slice(1) : '—'],
    ],
    'record-header',
  );
}

function joinsList(p: RecordParticipant, live: boolean): HTMLElement {
  return h(
    'ul',
    { class: 'joins' },
    ...p.joins.map((j) => {
      const left = j.leftAt ? formatClock(j.leftAt) : live ? 'still here' : 'no leave recorded';
      const why =
        j.leaveReason && j.leaveReason !== 'left' ? ` (${reasonText(j.leaveReason)})` : '';
      return h(
        'li',
        { testid: 'record-join' },
        h('time', { datetime: j.joinedAt }, formatClock(j.joinedAt)),
        ' – ',
        j.leftAt ? h('time', { datetime: j.leftAt }, left) : h('span', { class: 'muted' }, left),
        why ? h('span', { class: 'muted' }, why) : null,
      );
    }),
  );
}

function participantsTable(r: ConsultRecord): HTMLElement {
  if (!r.participants.length)
    return h('p', { class: 'empty', testid: 'record-no-participants' }, 'Nobody joined.');
  const live = r.status === 'live';
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table record-participants' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Participant', 'Role', 'Browser', 'Network', 'Joined – left', 'Time present'].map(
            (t) => h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        ...r.participants.map((p) =>
          h(
            'tr',
            {
              testid: 'record-participant',
              dataset: { participantId: p.participantId, kind: p.kind },
            },
            h(
              'td',
              {},
              h('span', { class: 'record-name', testid: 'record-participant-name' }, p.displayName),
              p.kind === 'guest' ? h('span', { class: 'tag' }, 'guest') : null,
              // A name they chose in the call: shown, never used to identify them.
              p.alias ? h('span', { class: 'muted' }, ` shown in the call as “${p.alias}”`) : null,
              precheckLine(p),
            ),
            h('td', {}, role(p.role)),
            h('td', { title: p.userAgent ?? '' }, p.browser ?? '—'),
            networkCell(p.networkType),
            h('td', {}, joinsList(p, live)),
            h(
              'td',
              {
                testid: 'record-duration',
                dataset: { seconds: String(p.totalSeconds) },
                class: 'num',
              },
              formatDuration(p.totalSeconds),
            ),
          ),
        ),
      ),
    ),
  );
}

const DEVICE_WORDS: Record<string, string> = {
  ok: 'worked',
  denied: 'not allowed',
  in_use: 'in use by another app',
  none: 'none found',
  error: 'failed',
  skipped: 'not checked',
};
const NETWORK_WORDS: Record<string, string> = {
  good: 'good for HD video',
  fair: 'fair (lower-quality video)',
  poor: 'poor (audio only likely)',
  failed: 'gateway not reached',
};

/** What the participant's pre-call check found, in one line (nothing if they ran none). */
function precheckLine(p: RecordParticipant): HTMLElement | null {
  const c = p.precheck as Precheck | null;
  if (!c) return null;
  const n = c.network;
  const figures =
    n.verdict === 'failed'
      ? ''
      : ` (round trip ${Math.round(n.rttMs ?? 0)} ms, down ${n.downKbps} kbit/s, up ${n.upKbps} kbit/s)`;
  const connection =
    n.path === 'udp' || n.path === 'tcp'
      ? `connection to the media server over ${n.path.toUpperCase()} ${NETWORK_WORDS[n.verdict] ?? n.verdict}`
      : n.media === 'unreachable'
        ? 'media server not reached over UDP or TCP'
        : `connection to the gateway (HTTPS; media server not checked) ${NETWORK_WORDS[n.verdict] ?? n.verdict}`;
  return h(
    'span',
    {
      class: 'record-precheck muted',
      testid: 'record-precheck',
      dataset: { network: n.verdict, path: n.path },
    },
    `Pre-call check: camera ${DEVICE_WORDS[c.camera] ?? c.camera}, microphone ${
      DEVICE_WORDS[c.microphone] ?? c.microphone
    }${c.micHeard ? ' (heard)' : ''}, speaker ${c.speakerTested ? 'tested' : 'not tested'}; ` +
      `${connection}${figures}.`,
  );
}

function chatTranscript(chat: RecordChat[]): HTMLElement {
  if (!chat.length)
    return h('p', { class: 'empty', testid: 'record-chat' }, 'No chat messages were sent.');
  return h(
    'ol',
    { class: 'transcript', testid: 'record-chat' },
    ...chat.map((m) =>
      h(
        'li',
        { testid: 'record-chat-message' },
        h(
          'div',
          { class: 'chat-meta' },
          h('span', { class: 'chat-sender' }, m.senderName),
          h('span', { class: 'muted' }, role(m.senderRole)),
          h('time', { datetime: m.at, title: formatFull(m.at) }, formatClock(m.at)),
        ),
        h('p', { class: 'chat-text' }, m.text),
      ),
    ),
  );
}

/** The charts share one time axis: the consult's span (and every sample in it). */
function timeDomain(r: ConsultRecord): TimeDomain {
  let first = Infinity;
  let last = -Infinity;
  for (const q of r.quality) {
    for (const p of q.series) {
      const t = Date.parse(p.at);
      first = Math.min(first, t);
      last = Math.max(last, t);
    }
  }
  const now = Date.now();
  const start = Math.min(r.startedAt ? Date.parse(r.startedAt) : now, first);
  const end = r.endedAt ? Date.parse(r.endedAt) : r.status === 'live' ? now : start;
  return { start, end: Math.max(end, last) };
}

function safeFileName(s: string): string {
  return s.replace(/[^\w.-]+/g, '_').slice(0, 80);
}

/** Saves `data` as a JSON file through a temporary download link. */
function saveJson(data: unknown, fileName: string, type: string): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type }));
  const a = h('a', { href: url, download: fileName, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

export function recordPage(ctx: AppContext, consultId: string): Cleanup {
  const main = shell(ctx, 'Consult record');
  const user = ctx.auth.user;
  const message = messageBox('record-message');
  const body = h('div', { class: 'record-body', 'aria-live': 'polite', 'aria-busy': 'true' });
  let notes: NotesEditor | null = null;

  const refresh = h('button', { type: 'button', testid: 'record-refresh' }, 'Refresh');
  const download = h(
    'button',
    { type: 'button', testid: 'fhir-download', title: 'An HL7 FHIR R4 Bundle for the EHR' },
    'Download FHIR (R4)',
  );
  const title = h('h1', { class: 'record-title', testid: 'record-title' }, 'Consult record');
  const badge = h('span');
  main.append(
    h('a', { class: 'back-link', href: user ? Auth.home(user.role) : '/' }, '← Your consults'),
    h(
      'div',
      { class: 'record-head' },
      h('div', { class: 'consult-heading' }, title, badge),
      h('div', { class: 'toolbar' }, refresh, download),
    ),
    message.el,
    body,
  );

  /** Renders the record; `keep` is a notes editor with unsaved changes to keep as it is. */
  function render(r: ConsultRecord, keep: NotesEditor | null): void {
    document.title = `${r.title} · record · Telemed`;
    title.textContent = r.title;
    badge.replaceChildren(statusBadge(r.status));
    const full = r.view === 'full';
    if (notes !== keep || !full) notes?.destroy();
    notes = null;
    const sections: HTMLElement[] = [
      h('section', { class: 'card' }, header(r)),
      card('participants-h', `Participants (${r.participants.length})`, participantsTable(r)),
    ];
    if (!full) {
      sections[0]!.append(
        h(
          'p',
          { class: 'muted', testid: 'record-participant-view' },
          'You see your own part of this record. The host and administrators see everyone’s ' +
            'connection quality and the notes.',
        ),
      );
    }
    const domain = timeDomain(r);
    sections.push(
      card(
        'quality-h',
        'Connection quality',
        r.quality.length
          ? h('div', { class: 'quality-list' }, ...r.quality.map((q) => qualityBlock(q, domain)))
          : h('p', { class: 'empty' }, 'No quality samples were recorded.'),
      ),
      card(
        'timeline-h',
        'Timeline',
        recordTimeline(r.timeline, r.startedAt ? Date.parse(r.startedAt) : null),
      ),
      card('chat-h', `Chat (${r.chat.length})`, chatTranscript(r.chat)),
    );
    if (full) {
      const notStarted = r.status === 'scheduled' || r.status === 'cancelled';
      notes ??= keep;
      notes ??= new NotesEditor({
        initial: r.notes,
        save: (b) => ctx.api.saveNotes(consultId, b),
        disabledReason: notStarted
          ? 'Notes can be written once the consult has started.'
          : undefined,
      });
      sections.push(
        card(
          'notes-h',
          'Notes and outcome',
          h('p', { class: 'muted' }, 'Private to the host and administrators. Every save is kept.'),
          notes.el,
        ),
      );
    }
    body.replaceChildren(...sections);
    body.setAttribute('aria-busy', 'false');
  }

  async function load(): Promise<void> {
    try {
      const r = await ctx.api.getRecord(consultId);
      if (!ctx.isCurrent()) return;
      message.clear();
      const keep = notes?.dirty ? notes : null;
      render(r, keep);
      if (keep) message.info('The record was refreshed; your unsaved notes were kept.');
    } catch (err) {
      if (!ctx.isCurrent()) return;
      body.setAttribute('aria-busy', 'false');
      if (err instanceof ApiError && err.status === 404) {
        message.show('error', 'There is no record of this consult that you may see.');
      } else message.error(err);
    }
  }

  refresh.addEventListener('click', () => void busy(refresh, load));
  download.addEventListener(
    'click',
    () =>
      void busy(download, async () => {
        try {
          const bundle = await ctx.api.getRecordFhir(consultId);
          saveJson(
            bundle,
            `consult-${safeFileName(consultId)}-fhir-r4.json`,
            'application/fhir+json',
          );
        } catch (err) {
          message.show('error', `The FHIR export failed: ${errorMessage(err)}`);
        }
      }),
  );

  void load();
  return () => notes?.destroy();
}

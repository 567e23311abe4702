/**
 * The HTTP API under /api/v1: a typed fetch wrapper and one method per endpoint. Types come
 * from the server's zod schemas (type-only imports), so client and server cannot drift.
 */
import type { z } from 'zod';
import type {
  ConsultRecord,
  UserRole,
  auditEntryDto,
  auditQuery,
  colleagueDto,
  consultDto,
  createConsultBody,
  createInviteBody,
  createUserBody,
  inviteDto,
  joinGrantResponse,
  notesBody,
  scheduledConsultDto,
  sessionResponse,
  updateConsultBody,
  userDto,
} from '../../src/protocol';

export type User = z.infer<typeof userDto>;
/** A doctor's view of a colleague they may invite. */
export type Colleague = z.infer<typeof colleagueDto>;
export type { UserRole };
export type Consult = z.infer<typeof consultDto>;
export type ConsultStatus = Consult['status'];
/** A consult just scheduled, with an invite link per guest entered. */
export type ScheduledConsult = z.infer<typeof scheduledConsultDto>;
export type ScheduledInvite = ScheduledConsult['invites'][number];
export type Invite = z.infer<typeof inviteDto>;
export type AuthSession = z.infer<typeof sessionResponse>;
export type JoinGrant = z.infer<typeof joinGrantResponse>;
export type NewUser = z.input<typeof createUserBody>;
export type NewConsult = z.input<typeof createConsultBody>;
export type ConsultPatch = z.input<typeof updateConsultBody>;
export type NewInvite = z.input<typeof createInviteBody>;
export type { ConsultRecord };
export type RecordParticipant = ConsultRecord['participants'][number];
export type RecordEvent = ConsultRecord['timeline'][number];
export type RecordQuality = ConsultRecord['quality'][number];
export type QualityPoint = RecordQuality['series'][number];
export type RecordChat = ConsultRecord['chat'][number];
export type ConsultNotes = z.infer<typeof notesBody>;
export type SavedNotes = ConsultNotes & { updatedAt: string };
/** An audit row as the API returns it (times as ISO strings). */
export type AuditEntry = z.infer<typeof auditEntryDto>;
/** GET /audit filters: `action` is exact (auth.login) or a prefix (auth); times are ISO. */
export type AuditQuery = Omit<Partial<z.input<typeof auditQuery>>, 'limit' | 'offset'> & {
  limit?: number;
  offset?: number;
};

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export const API_BASE = '/api/v1';

/** A failed API call: the server's `{ error: { code, message, issues? } }`, or a network error. */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds to wait before retrying (from Retry-After, with 429). */
    readonly retryAfter?: number,
    readonly issues?: { path: (string | number)[]; message: string }[],
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined>;

export interface RequestOptions {
  body?: unknown;
  query?: Query;
  /** Bearer access token. */
  token?: string | null;
  signal?: AbortSignal;
}

function url(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return `${API_BASE}${path}${qs ? `?${qs}` : ''}`;
}

async function toApiError(res: Response): Promise<ApiError> {
  const retry = Number(res.headers.get('retry-after'));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : undefined;
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON (e.g. a proxy's error page).
  }
  const error = (body as { error?: { code?: string; message?: string; issues?: unknown } } | null)
    ?.error;
  return new ApiError(
    res.status,
    error?.code ?? `http_${res.status}`,
    error?.message ?? `${res.status} ${res.statusText || 'error'}`,
    retryAfter,
    Array.isArray(error?.issues) ? (error.issues as ApiError['issues']) : undefined,
  );
}

/** One JSON request. Resolves with the parsed body (undefined for 204); throws ApiError. */
export async function request<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  opts: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let res: Response;
  try {
    res = await fetch(url(path, opts.query), {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
      credentials: 'same-origin',
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'The server could not be reached. Check your connection.');
  }
  if (!res.ok) throw await toApiError(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** A wait in words for people: "20 seconds", "1 minute", "15 minutes". */
export function waitInWords(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/** A readable one-liner for any error (field issues included). */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 429)
      return err.retryAfter
        ? `Too many attempts. Try again in ${waitInWords(err.retryAfter)}.`
        : 'Too many attempts. Try again later.';
    if (err.issues?.length) {
      const fields = err.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`);
      return `Please check: ${fields.join('; ')}`;
    }
    const text = err.message.charAt(0).toUpperCase() + err.message.slice(1);
    return /[.!?]$/.test(text) ? text : `${text}.`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** What the endpoint methods need from the login session. */
export interface TokenSource {
  /** A current access token (refreshed first if it is about to expire), or null. */
  accessToken(): Promise<string | null>;
  /** After a 401: try to refresh once; true when a new access token is available. */
  recover(): Promise<boolean>;
}

/** The authenticated endpoints; every call retries once after refreshing on 401. */
export class Api {
  constructor(private readonly tokens: TokenSource) {}

  private async call<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    opts: Omit<RequestOptions, 'token'> = {},
  ): Promise<T> {
    try {
      return await request<T>(method, path, { ...opts, token: await this.tokens.accessToken() });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401 || !(await this.tokens.recover()))
        throw err;
      return request<T>(method, path, { ...opts, token: await this.tokens.accessToken() });
    }
  }

  // --- users ---
  listUsers(query: { role?: UserRole; limit?: number; offset?: number } = {}) {
    return this.call<Page<User>>('GET', '/users', { query: { limit: 200, ...query } });
  }
  /** For doctors: the enabled doctors and specialists they may invite (no e-mails). */
  listColleagues(query: { role?: UserRole; limit?: number; offset?: number } = {}) {
    return this.call<Page<Colleague>>('GET', '/users', { query: { limit: 200, ...query } });
  }
  createUser(body: NewUser) {
    return this.call<User>('POST', '/users', { body });
  }
  setUserDisabled(id: string, disabled: boolean) {
    return this.call<User>('PATCH', `/users/${encodeURIComponent(id)}`, { body: { disabled } });
  }

  // --- consults ---
  listConsults(
    query: {
      status?: ConsultStatus[];
      from?: string;
      to?: string;
      limit?: number;
      offset?: number;
    } = {},
  ) {
    return this.call<Page<Consult>>('GET', '/consults', {
      query: { ...query, status: query.status?.join(',') },
    });
  }
  getConsult(id: string) {
    return this.call<Consult>('GET', `/consults/${encodeURIComponent(id)}`);
  }
  createConsult(body: NewConsult) {
    return this.call<ScheduledConsult>('POST', '/consults', { body });
  }
  updateConsult(id: string, body: ConsultPatch) {
    return this.call<Consult>('PATCH', `/consults/${encodeURIComponent(id)}`, { body });
  }
  cancelConsult(id: string) {
    return this.call<Consult>('POST', `/consults/${encodeURIComponent(id)}/cancel`);
  }
  joinConsult(id: string) {
    return this.call<JoinGrant>('POST', `/consults/${encodeURIComponent(id)}/join`);
  }

  // --- invites ---
  createInvite(consultId: string, body: NewInvite) {
    return this.call<{ invite: Invite; url: string; token: string }>(
      'POST',
      `/consults/${encodeURIComponent(consultId)}/invites`,
      { body },
    );
  }
  listInvites(consultId: string) {
    return this.call<{ items: Invite[] }>(
      'GET',
      `/consults/${encodeURIComponent(consultId)}/invites`,
    );
  }
  revokeInvite(consultId: string, inviteId: string) {
    return this.call<Invite>(
      'DELETE',
      `/consults/${encodeURIComponent(consultId)}/invites/${encodeURIComponent(inviteId)}`,
    );
  }

  // --- records and audit ---
  /** The consult record (the host and admins get the `full` view, other participants their own). */
  getRecord(consultId: string) {
    return this.call<ConsultRecord>('GET', `/consults/${encodeURIComponent(consultId)}/record`);
  }
  /** The record as a FHIR R4 Bundle (parsed JSON; audited as an export). */
  getRecordFhir(consultId: string) {
    return this.call<{ resourceType: 'Bundle' } & Record<string, unknown>>(
      'GET',
      `/consults/${encodeURIComponent(consultId)}/record/fhir`,
    );
  }
  /** Saves the host's notes and outcome (every save is kept on the server). */
  saveNotes(consultId: string, body: ConsultNotes) {
    return this.call<SavedNotes>('POST', `/consults/${encodeURIComponent(consultId)}/notes`, {
      body,
    });
  }
  /** Searches the audit log, newest first (admins only). */
  searchAudit(query: AuditQuery = {}) {
    return this.call<Page<AuditEntry>>('GET', '/audit', { query });
  }
}

/** Exchanges an invite link's token for a guest join grant (no login needed). */
export function redeemInvite(token: string) {
  return request<JoinGrant & { guestName: string; consultTitle: string }>(
    'POST',
    '/invites/redeem',
    { body: { token } },
  );
}

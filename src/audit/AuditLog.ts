/** Writes audit rows for security-relevant events; a failed write is retried, then reported. */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { AuditEntry, AuditRepository } from '../store/repositories.js';

export interface AuditEvent {
  action: string;
  actor?: { id: string | null; label?: string | null } | null;
  ip?: string | null;
  object?: { type: string; id: string } | null;
  outcome?: 'success' | 'failure';
  details?: Record<string, unknown>;
}

export class AuditLog {
  constructor(
    private readonly repo: AuditRepository,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Appends one row; retries a failed write three times before throwing. Inside a store
   * transaction pass its `tx.audit`, so the row commits (or not) with the change it records.
   */
  async record(event: AuditEvent, into: AuditRepository = this.repo): Promise<AuditEntry> {
    const entry: AuditEntry = {
      id: randomUUID(),
      at: this.now(),
      action: event.action,
      actorId: event.actor?.id ?? null,
      actorLabel: event.actor?.label ?? null,
      sourceIp: event.ip ?? null,
      objectType: event.object?.type ?? null,
      objectId: event.object?.id ?? null,
      outcome: event.outcome ?? 'success',
      details: event.details ?? null,
    };
    let lastError: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await into.append(entry);
        return entry;
      } catch (err) {
        lastError = err;
        this.logger.warn({ err, attempt, action: entry.action }, 'audit write failed; retrying');
      }
    }
    this.logger.error({ err: lastError, entry }, 'audit write failed');
    throw lastError;
  }

  search(...args: Parameters<AuditRepository['search']>) {
    return this.repo.search(...args);
  }
}

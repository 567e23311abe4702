/** Versioned schema migrations, applied in order at start; never edit one that has shipped. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'accounts, consults, invites',
    sql: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'doctor', 'specialist')),
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );

      CREATE TABLE refresh_tokens (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        family_id TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        replaced_by TEXT
      );
      CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
      CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);

      CREATE TABLE consults (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        patient_ref TEXT NOT NULL,
        scheduled_start INTEGER NOT NULL,
        scheduled_end INTEGER NOT NULL,
        host_id TEXT NOT NULL REFERENCES users(id),
        status TEXT NOT NULL CHECK (status IN ('scheduled', 'open', 'live', 'ended', 'cancelled')),
        created_by TEXT NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        started_at INTEGER,
        ended_at INTEGER,
        end_reason TEXT,
        CHECK (scheduled_end > scheduled_start)
      );
      CREATE INDEX consults_host ON consults(host_id);
      CREATE INDEX consults_start ON consults(scheduled_start);

      CREATE TABLE consult_specialists (
        consult_id TEXT NOT NULL REFERENCES consults(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL REFERENCES users(id),
        PRIMARY KEY (consult_id, user_id)
      );
      CREATE INDEX consult_specialists_user ON consult_specialists(user_id);

      CREATE TABLE consult_guests (
        id TEXT PRIMARY KEY,
        consult_id TEXT NOT NULL REFERENCES consults(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        email TEXT
      );
      CREATE INDEX consult_guests_consult ON consult_guests(consult_id);

      CREATE TABLE invites (
        id TEXT PRIMARY KEY,
        consult_id TEXT NOT NULL REFERENCES consults(id) ON DELETE CASCADE,
        guest_name TEXT NOT NULL,
        email TEXT,
        created_by TEXT NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER,
        first_used_at INTEGER
      );
      CREATE INDEX invites_consult ON invites(consult_id);
    `,
  },
  {
    version: 2,
    name: 'audit log',
    sql: `
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        at INTEGER NOT NULL,
        action TEXT NOT NULL,
        actor_id TEXT,
        actor_label TEXT,
        source_ip TEXT,
        object_type TEXT,
        object_id TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
        details TEXT
      );
      CREATE INDEX audit_log_at ON audit_log(at);
      CREATE INDEX audit_log_action ON audit_log(action, at);
      CREATE INDEX audit_log_actor ON audit_log(actor_id, at);
      -- Append-only: the database itself refuses changes and deletions.
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    `,
  },
  {
    version: 3,
    name: 'consult records: participations, timeline, quality, chat, notes',
    sql: `
      CREATE TABLE participations (
        id TEXT PRIMARY KEY,
        consult_id TEXT NOT NULL REFERENCES consults(id) ON DELETE CASCADE,
        participant_id TEXT NOT NULL,
        peer_id TEXT NOT NULL,
        display_name TEXT NOT NULL,
        role TEXT NOT NULL,
        user_agent TEXT,
        network_type TEXT,
        joined_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        left_at INTEGER,
        leave_reason TEXT
      );
      CREATE INDEX participations_consult ON participations(consult_id, joined_at);

      CREATE TABLE consult_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        consult_id TEXT NOT NULL REFERENCES consults(id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        type TEXT NOT NULL,
        participant_id TEXT,
        display_name TEXT,
        details TEXT
      );
      CREATE INDEX consult_events_consult ON consult_events(consult_id, seq);

      CREATE TABLE quality_samples (
        consult_id TEXT NOT NULL REFERENCES consults(id) ON DELETE CASCADE,
        participant_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        send_kbps REAL,
        recv_kbps REAL,
        loss_pct REAL,
        rtt_ms REAL,
        jitter_ms REAL,
        video_layer INTEGER
      );
      CREATE INDEX quality_samples_consult ON quality_samples(consult_id, participant_id, at);

      CREATE TABLE chat_messages (
        id TEXT PRIMARY KEY,
        consult_id TEXT NOT NULL REFERENCES consults(id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        sender_id TEXT NOT NULL,
        sender_name TEXT NOT NULL,
        sender_role TEXT NOT NULL,
        text TEXT NOT NULL
      );
      CREATE INDEX chat_messages_consult ON chat_messages(consult_id, at);

      -- Every save of the host's notes is kept; the record shows the latest.
      CREATE TABLE consult_notes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        consult_id TEXT NOT NULL REFERENCES consults(id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        author_id TEXT NOT NULL,
        notes TEXT NOT NULL,
        outcome TEXT NOT NULL
      );
      CREATE INDEX consult_notes_consult ON consult_notes(consult_id, seq);
    `,
  },
  {
    version: 4,
    name: 'invite use limits; chosen names kept apart from vouched ones',
    sql: `
      -- Each redemption of an invite is its own guest; an invite admits max_uses people.
      ALTER TABLE invites ADD COLUMN max_uses INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE invites ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
      -- An invite used before this version was used by its one person.
      UPDATE invites SET uses = 1 WHERE first_used_at IS NOT NULL;
      -- participations.display_name is the vouched name; a name chosen at join is only an alias.
      ALTER TABLE participations ADD COLUMN alias TEXT;
    `,
  },
  {
    version: 5,
    name: 'per-user token version (revocation that bites at once)',
    sql: `
      -- Carried in access tokens and join grants as \`tv\`; bumping it refuses every one issued before.
      ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
      -- Accounts disabled before this version existed: their tokens (without \`tv\`, read as 0) stay refused.
      UPDATE users SET token_version = 1 WHERE disabled = 1;
    `,
  },
  {
    version: 6,
    name: 'the node hosting a live consult (start-up recovery ends only its own)',
    sql: `
      -- Set when the consult goes live on a node (NODE_ID); a starting node interrupts only its own.
      ALTER TABLE consults ADD COLUMN node_id TEXT;
      CREATE INDEX consults_status_node ON consults(status, node_id);
    `,
  },
];

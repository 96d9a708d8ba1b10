import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/** Migrations live in code so that the same list runs on PGlite and the server, with no files to find. */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        CREATE TABLE users (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          email text NOT NULL,
          phone text NOT NULL,
          first_name text NOT NULL,
          last_name text NOT NULL,
          password_hash text,
          email_verified_at timestamptz,
          phone_verified_at timestamptz,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        );
        CREATE UNIQUE INDEX users_email_key ON users (lower(email));
        -- a phone number proves one person: it can be verified on one account only
        CREATE UNIQUE INDEX users_verified_phone_key ON users (phone) WHERE phone_verified_at IS NOT NULL;

        CREATE TABLE otp_codes (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          purpose text NOT NULL,
          destination text NOT NULL,
          code_hash text NOT NULL,
          attempts integer NOT NULL DEFAULT 0,
          expires_at timestamptz NOT NULL,
          consumed_at timestamptz,
          created_at timestamptz NOT NULL,
          UNIQUE (user_id, purpose)
        );

        CREATE TABLE sessions (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          created_at timestamptz NOT NULL,
          revoked_at timestamptz
        );
        CREATE INDEX sessions_user_idx ON sessions (user_id);

        CREATE TABLE refresh_tokens (
          token_hash text PRIMARY KEY,
          session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
          expires_at timestamptz NOT NULL,
          used_at timestamptz,
          created_at timestamptz NOT NULL
        );
        CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

        CREATE TABLE login_failures (
          email text PRIMARY KEY,
          failures integer NOT NULL,
          blocked_until timestamptz,
          updated_at timestamptz NOT NULL
        );

        CREATE TABLE messages (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          channel text NOT NULL,
          recipient text NOT NULL,
          purpose text NOT NULL,
          subject text,
          body_text text NOT NULL,
          body_html text,
          otp text,
          expires_at timestamptz,
          status text NOT NULL DEFAULT 'queued',
          attempts integer NOT NULL DEFAULT 0,
          next_attempt_at timestamptz NOT NULL,
          lease_until timestamptz,
          last_error text,
          provider_id text,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          sent_at timestamptz
        );
        CREATE INDEX messages_due_idx ON messages (next_attempt_at) WHERE status IN ('queued', 'sending');
        CREATE INDEX messages_recipient_idx ON messages (lower(recipient), created_at DESC);
      `,
      );
    },
  },
  '0002_abuse_defense': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- wrong guesses per (account, purpose) across codes, for OTP_MAX_FAILURES_PER_DAY; they survive a new code
        ALTER TABLE otp_codes ADD COLUMN failures integer NOT NULL DEFAULT 0;
        ALTER TABLE otp_codes ADD COLUMN failures_since timestamptz;
        -- two different passwords were registered while the address was unverified: keep neither
        ALTER TABLE users ADD COLUMN password_contested boolean NOT NULL DEFAULT false;
        CREATE INDEX users_unverified_idx ON users (created_at) WHERE email_verified_at IS NULL;
      `,
      );
    },
  },
  '0003_retention': {
    async up(db: Kysely<any>) {
      // Retention (src/platform/db/retention.ts) finds each batch through one of these, never by scanning a table.
      // IF NOT EXISTS: on a large database an operator may build them first with CREATE INDEX
      // CONCURRENTLY (not allowed inside this migration's transaction) so writes are never blocked.
      await runStatements(
        db,
        `
        CREATE INDEX IF NOT EXISTS messages_final_idx ON messages (updated_at) WHERE status IN ('sent', 'failed', 'captured');
        -- dead since: the earlier of use and expiry (least() skips a NULL)
        CREATE INDEX IF NOT EXISTS refresh_tokens_dead_idx ON refresh_tokens (least(used_at, expires_at));
        CREATE INDEX IF NOT EXISTS sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
        CREATE INDEX IF NOT EXISTS otp_codes_dead_idx ON otp_codes (least(consumed_at, expires_at));
        CREATE INDEX IF NOT EXISTS login_failures_updated_idx ON login_failures (updated_at);
      `,
      );
    },
  },
  '0004_delivery_leases': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- the holder of the current claim: only it may record the outcome (a worker whose lease ran out may not)
        ALTER TABLE messages ADD COLUMN lease_token uuid;
        -- each channel claims on its own
        CREATE INDEX messages_due_channel_idx ON messages (channel, next_attempt_at) WHERE status IN ('queued', 'sending');
        DROP INDEX messages_due_idx;
      `,
      );
    },
  },
  '0005_session_expiry': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- when the session's newest refresh token expires: past it nothing can use the session, so
        -- retention may remove it (before, a session never logged out was kept forever)
        ALTER TABLE sessions ADD COLUMN expires_at timestamptz;
        UPDATE sessions SET expires_at = coalesce((SELECT max(t.expires_at) FROM refresh_tokens t WHERE t.session_id = sessions.id), created_at);
        ALTER TABLE sessions ALTER COLUMN expires_at SET NOT NULL;
        -- dead since: the earlier of logout and expiry
        CREATE INDEX IF NOT EXISTS sessions_dead_idx ON sessions (least(revoked_at, expires_at));
        DROP INDEX IF EXISTS sessions_revoked_idx;
      `,
      );
    },
  },
  '0006_message_events': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- every step of a message (queued, each failed attempt, sent, receipts, why it ended unsent),
        -- written in the transaction of the state change it records; it goes with its message
        CREATE TABLE message_events (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
          at timestamptz NOT NULL,
          kind text NOT NULL,
          -- the message's status once this step was taken (a failed attempt left it queued or failed)
          status text NOT NULL,
          provider text,
          error text,
          provider_status integer,
          provider_code text,
          duration_ms integer,
          provider_id text
        );
        -- a message's events, oldest first (id orders events of one instant)
        CREATE INDEX message_events_message_idx ON message_events (message_id, at, id);
        -- the code a message carries: a code replaced by a newer one gets a new id (otp/store.ts), so a
        -- message whose code_id no longer exists is not sent; NULL for messages from before this
        ALTER TABLE messages ADD COLUMN code_id uuid;
        -- the message of a code (the person's view of their SMS code)
        CREATE INDEX messages_code_idx ON messages (code_id) WHERE code_id IS NOT NULL;
      `,
      );
    },
  },
  '0007_receipts': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- a receipt names the message by the provider's id
        CREATE INDEX IF NOT EXISTS messages_provider_idx ON messages (provider_id) WHERE provider_id IS NOT NULL;
        -- the provider's own code for the last failure or refusal (Twilio's ErrorCode, an SMTP reply code)
        ALTER TABLE messages ADD COLUMN provider_error_code text;
        -- receipts add final states (delivered, bounced, ...): the index of final messages names the pending ones instead
        DROP INDEX IF EXISTS messages_final_idx;
        CREATE INDEX IF NOT EXISTS messages_final_idx ON messages (updated_at) WHERE status NOT IN ('queued', 'sending');
        -- addresses that bounced hard or complained: nothing is sent to them again
        CREATE TABLE suppressions (
          address text PRIMARY KEY,
          kind text NOT NULL,
          reason text NOT NULL,
          message_id uuid,
          created_at timestamptz NOT NULL
        );
      `,
      );
    },
  },
  '0008_locale': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- the language of an account's messages (locales.ts); accounts from before it get English
        ALTER TABLE users ADD COLUMN locale text NOT NULL DEFAULT 'en';
        -- the language a message was written in, for the dev inbox and the delivery log; NULL before this
        ALTER TABLE messages ADD COLUMN locale text;
      `,
      );
    },
  },
  '0009_long_codes': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- the long twin of each code sent by email (its HMAC), a row each: a newer code does not end an
        -- older long one, so whatever reached the inbox this hour still works (otp/store.ts)
        CREATE TABLE otp_long_codes (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          purpose text NOT NULL,
          destination text NOT NULL,
          long_hash text NOT NULL,
          expires_at timestamptz NOT NULL,
          created_at timestamptz NOT NULL
        );
        CREATE INDEX otp_long_codes_user_purpose_idx ON otp_long_codes (user_id, purpose);
        CREATE INDEX otp_long_codes_expires_idx ON otp_long_codes (expires_at);
        -- the write a refused code check takes when it claimed no code (otp/store.ts): a count, nothing else
        CREATE TABLE claim_decoys (slot integer PRIMARY KEY, claims bigint NOT NULL);
      `,
      );
    },
  },
  '0010_provider_error': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- a failed attempt's provider error as it came (an SMTP reply, an API's error body), at most
        -- 1000 characters of JSON; it goes with its message, as every event does
        ALTER TABLE message_events ADD COLUMN provider_error jsonb;
      `,
      );
    },
  },
  '0011_phone_road': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- a phone code's own text, sealed (delivery/sealed-body.ts): the road sends the same code on
        -- the next channel while the code lives, and the row dies with the code
        ALTER TABLE otp_codes ADD COLUMN sealed_code text;
        -- a message queued for later, unless the one it waits for is delivered first (the road's timer)
        ALTER TABLE messages ADD COLUMN waits_for uuid;
        CREATE INDEX messages_waits_for_idx ON messages (waits_for) WHERE waits_for IS NOT NULL;
        -- one message per channel per code
        CREATE UNIQUE INDEX messages_code_channel_idx ON messages (code_id, channel) WHERE code_id IS NOT NULL;
      `,
      );
    },
  },
  '0012_session_devices': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- what a person is shown of each of their sessions: never the whole address, only its network
        ALTER TABLE sessions ADD COLUMN last_used_at timestamptz;
        UPDATE sessions SET last_used_at = created_at;
        ALTER TABLE sessions ALTER COLUMN last_used_at SET NOT NULL;
        ALTER TABLE sessions ADD COLUMN user_agent text;
        ALTER TABLE sessions ADD COLUMN network text;
        ALTER TABLE sessions ADD COLUMN method text NOT NULL DEFAULT 'password';
      `,
      );
    },
  },
  '0013_account_events': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- each change of an account, written in the change's transaction (accounts/events.ts); never a
        -- code, a password or a token. No foreign key: an event outlives its account (account_deleted), and
        -- goes after ACCOUNT_EVENT_RETENTION_DAYS. seq orders events (and an account's webhooks); id names
        -- one outside (the webhook-id)
        CREATE TABLE account_events (
          seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          id uuid NOT NULL DEFAULT gen_random_uuid(),
          user_id uuid NOT NULL,
          type text NOT NULL,
          actor text NOT NULL,
          at timestamptz NOT NULL,
          network text,
          user_agent text,
          facts jsonb NOT NULL DEFAULT '{}'
        );
        -- an account's events newest first (the keyset of the event log), and everyone's (and retention)
        CREATE INDEX account_events_user_idx ON account_events (user_id, at DESC, seq DESC);
        CREATE INDEX account_events_at_idx ON account_events (at DESC, seq DESC);
      `,
      );
    },
  },
  '0014_webhooks': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- the webhook outbox: one row per event and endpoint, queued in the event's transaction and delivered
        -- by the worker (delivery/webhooks.ts) under a lease, with retries; an endpoint is named by its
        -- host and path (never its credentials)
        CREATE TABLE webhook_deliveries (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          event_seq bigint NOT NULL REFERENCES account_events(seq) ON DELETE CASCADE,
          user_id uuid NOT NULL,
          endpoint text NOT NULL,
          status text NOT NULL DEFAULT 'queued',
          attempts integer NOT NULL DEFAULT 0,
          next_attempt_at timestamptz NOT NULL,
          lease_until timestamptz,
          lease_token uuid,
          last_error text,
          last_error_at timestamptz,
          delivered_at timestamptz,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        );
        -- an account's pending deliveries to an endpoint in order: a claim takes only the oldest of each
        CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (endpoint, user_id, event_seq)
          WHERE status IN ('queued', 'sending');
        -- retention finds finished ones through this; an event's removal takes its rows through the next
        CREATE INDEX webhook_deliveries_final_idx ON webhook_deliveries (updated_at) WHERE status NOT IN ('queued', 'sending');
        CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_seq);
        -- an endpoint's last success and last failure (the admin's delivery state)
        CREATE INDEX webhook_deliveries_delivered_idx ON webhook_deliveries (endpoint, delivered_at)
          WHERE delivered_at IS NOT NULL;
        CREATE INDEX webhook_deliveries_error_idx ON webhook_deliveries (endpoint, last_error_at)
          WHERE last_error_at IS NOT NULL;
      `,
      );
    },
  },
  '0015_message_owner': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- whose message it is, so that an account's erasure finds every message sent for it, a notice to
        -- an old address too. No foreign key: a message outlives its account (erased) until retention.
        -- Rows from before: their code's account; a notice before this has none, and is found by address
        ALTER TABLE messages ADD COLUMN user_id uuid;
        UPDATE messages m SET user_id = c.user_id FROM otp_codes c WHERE c.id = m.code_id;
        CREATE INDEX messages_user_idx ON messages (user_id);
      `,
      );
    },
  },
  '0016_message_time': {
    async up(db: Kysely<any>) {
      await runStatements(
        db,
        `
        -- delivery health (delivery/health-stats.ts) reads the messages of the last day or week by when they
        -- were queued: through this, not a read of the whole table (up to MESSAGE_RETENTION_DAYS of it)
        CREATE INDEX messages_created_idx ON messages (created_at);
      `,
      );
    },
  },
};

/** PGlite's extended protocol takes one statement at a time, so a migration's script is split. */
async function runStatements(db: Kysely<any>, script: string): Promise<void> {
  const statements = script
    .split(/;\s*$/m)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter(Boolean);
  for (const statement of statements) await sql.raw(statement).execute(db);
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Applies every pending migration (up to `target` when given, for tests of a migration); throws with the failing migration's error. */
export async function migrateToLatest(db: Kysely<any>, target?: string): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await (target ? migrator.migrateTo(target) : migrator.migrateToLatest());
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** True when no migration is pending (readiness and doctor). */
export async function isMigrated(db: Kysely<any>): Promise<boolean> {
  const all = await new Migrator({ db, provider }).getMigrations();
  return all.every((m) => m.executedAt !== undefined);
}

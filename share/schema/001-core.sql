-- 001-core: tenancy, actors, agents, locations, accounts, intake, conversations,
-- messages, outbox, escalations, audit.  Times are Unix seconds (INTEGER, UTC).
-- Every tenant-owned row carries tenant_id.  Portable SQL (PostgreSQL-friendly)
-- except the FTS5 table and the triggers' RAISE.
-- Enumerations are checked as "x = 'a' OR x = 'b'", not "x IN ('a','b')": SQLite
-- (3.40) builds an ephemeral b-tree for an IN list on every row written, which
-- cost ig-route a third of its intake time.

CREATE TABLE tenants (
  id          INTEGER PRIMARY KEY,
  slug        TEXT NOT NULL UNIQUE,                 -- short handle used on the command line
  name        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE users (
  id           INTEGER PRIMARY KEY,
  email        TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name         TEXT NOT NULL DEFAULT '',
  super_admin  INTEGER NOT NULL DEFAULT 0 CHECK (super_admin = 0 OR super_admin = 1),
  created_at   INTEGER NOT NULL
);

CREATE TABLE memberships (
  tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role        TEXT NOT NULL CHECK (role = 'org_admin' OR role = 'marketer' OR role = 'sales' OR role = 'viewer'),
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);

-- An API key is "igk_<prefix>_<secret>"; only SHA-256(key) is kept.
-- tenant_id NULL = a super-admin key (only for a user with super_admin = 1).
CREATE TABLE api_keys (
  id            INTEGER PRIMARY KEY,
  tenant_id     INTEGER REFERENCES tenants(id) ON DELETE CASCADE,
  user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  prefix        TEXT NOT NULL UNIQUE,
  hash          TEXT NOT NULL,
  name          TEXT NOT NULL DEFAULT '',
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER,
  revoked_at    INTEGER
);

CREATE TABLE agents (
  id               INTEGER PRIMARY KEY,
  tenant_id        INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name             TEXT NOT NULL,                   -- handle, e.g. marco
  display_name     TEXT NOT NULL DEFAULT '',        -- e.g. Marco
  personality      TEXT NOT NULL DEFAULT '',
  instructions     TEXT NOT NULL DEFAULT '',
  business_name    TEXT NOT NULL DEFAULT '',
  language         TEXT NOT NULL DEFAULT 'en',
  booking_enabled  INTEGER NOT NULL DEFAULT 0 CHECK (booking_enabled = 0 OR booking_enabled = 1),
  engine           TEXT NOT NULL DEFAULT 'kb' CHECK (engine = 'kb' OR engine = 'openai'),
  model            TEXT NOT NULL DEFAULT '',
  debounce_seconds INTEGER NOT NULL DEFAULT 0 CHECK (debounce_seconds >= 0),
  pause_on_human   INTEGER NOT NULL DEFAULT 1 CHECK (pause_on_human = 0 OR pause_on_human = 1),
  active           INTEGER NOT NULL DEFAULT 1 CHECK (active = 0 OR active = 1),
  is_default       INTEGER NOT NULL DEFAULT 0 CHECK (is_default = 0 OR is_default = 1),
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  UNIQUE (tenant_id, name)
);
-- at most one default agent per tenant; "at least one once it has any" is kept by lib/tenant.c
CREATE UNIQUE INDEX agents_one_default ON agents(tenant_id) WHERE is_default = 1;

CREATE TABLE locations (
  id          INTEGER PRIMARY KEY,
  tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  timezone    TEXT NOT NULL DEFAULT 'UTC',
  hours       TEXT NOT NULL DEFAULT '',
  context     TEXT NOT NULL DEFAULT '',             -- free text handed to the AI
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (tenant_id, name)
);

-- A connected channel account (the "integration record").  One external
-- account belongs to one tenant: UNIQUE (channel, external_id).
-- agent_id NULL = the tenant's default agent answers.
-- Sealed tokens: lib/crypto.h ig_seal() blobs, AAD "accounts:<id>:<column>".
CREATE TABLE accounts (
  id                  INTEGER PRIMARY KEY,
  tenant_id           INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  agent_id            INTEGER REFERENCES agents(id) ON DELETE SET NULL,
  location_id         INTEGER REFERENCES locations(id) ON DELETE SET NULL,
  channel             TEXT NOT NULL CHECK (channel = 'instagram' OR channel = 'messenger'),
  flavour             TEXT NOT NULL CHECK (flavour = 'instagram' OR flavour = 'facebook'), -- login flavour
  external_id         TEXT NOT NULL,                -- IG professional account id, or Page id for messenger
  page_id             TEXT,                          -- linked Page (Facebook Login)
  username            TEXT,
  name                TEXT,
  profile_picture_url TEXT,
  followers_count     INTEGER,
  biography           TEXT,
  status              TEXT NOT NULL DEFAULT 'active'
                        CHECK (status = 'active' OR status = 'needs_reauth' OR status = 'error' OR status = 'disconnected'),
  access_token        BLOB,
  token_issued_at     INTEGER,
  token_expires_at    INTEGER,                       -- NULL or 0 = never
  refresh_token       BLOB,
  refresh_expires_at  INTEGER,
  scopes              TEXT NOT NULL DEFAULT '',      -- comma list granted
  subscribed_fields   TEXT NOT NULL DEFAULT '',
  details             TEXT NOT NULL DEFAULT '{}',    -- platform details (JSON)
  last_error          TEXT,
  error_count         INTEGER NOT NULL DEFAULT 0,
  message_count       INTEGER NOT NULL DEFAULT 0,
  user_count          INTEGER NOT NULL DEFAULT 0,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  last_synced_at      INTEGER,
  UNIQUE (channel, external_id)
);
CREATE INDEX accounts_tenant ON accounts(tenant_id);
CREATE INDEX accounts_page ON accounts(page_id);

-- OAuth state: single use, expiring; the state string is nonce.mac.
CREATE TABLE oauth_states (
  nonce        TEXT PRIMARY KEY,
  tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  agent_id     INTEGER REFERENCES agents(id) ON DELETE CASCADE,
  flavour      TEXT NOT NULL CHECK (flavour = 'instagram' OR flavour = 'facebook'),
  redirect_uri TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  used_at      INTEGER
);

-- Raw webhook deliveries, stored before anything else.
CREATE TABLE deliveries (
  id           INTEGER PRIMARY KEY,
  received_at  INTEGER NOT NULL,
  source       TEXT NOT NULL DEFAULT 'pipe',          -- cgi | pipe | replay
  object       TEXT,                                  -- instagram | page | NULL if unparsable
  signature    TEXT,                                  -- header value as received
  sig_status   TEXT NOT NULL CHECK (sig_status = 'valid' OR sig_status = 'invalid' OR sig_status = 'missing' OR sig_status = 'unchecked'),
  status       TEXT NOT NULL DEFAULT 'received'
                 CHECK (status = 'received' OR status = 'processed' OR status = 'partial' OR status = 'rejected'),
  error        TEXT,
  body         BLOB NOT NULL
);
CREATE INDEX deliveries_status ON deliveries(status);

-- A record that could not be processed: raw bytes and the reason.
CREATE TABLE dead_letters (
  id           INTEGER PRIMARY KEY,
  delivery_id  INTEGER REFERENCES deliveries(id) ON DELETE SET NULL,
  tenant_id    INTEGER REFERENCES tenants(id) ON DELETE CASCADE,
  source       TEXT NOT NULL,                          -- which program / stage
  reason       TEXT NOT NULL,
  account_ref  TEXT,                                   -- external account id if known
  raw          BLOB NOT NULL,
  status       TEXT NOT NULL DEFAULT 'open' CHECK (status = 'open' OR status = 'replayed' OR status = 'discarded'),
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);

-- Keys of events already handled, for idempotent intake.
CREATE TABLE event_keys (
  key          TEXT PRIMARY KEY,
  delivery_id  INTEGER,
  created_at   INTEGER NOT NULL
);

CREATE TABLE conversations (
  id                INTEGER PRIMARY KEY,
  tenant_id         INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  account_id        INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  participant_id    TEXT NOT NULL,                     -- IGSID / PSID
  participant_name  TEXT,
  status            TEXT NOT NULL DEFAULT 'open' CHECK (status = 'open' OR status = 'pending' OR status = 'closed'),
  priority          TEXT NOT NULL DEFAULT 'P2' CHECK (priority = 'P0' OR priority = 'P1' OR priority = 'P2' OR priority = 'P3'),
  assignee_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
  ai_state          TEXT NOT NULL DEFAULT 'active' CHECK (ai_state = 'active' OR ai_state = 'paused'),
  ai_reason         TEXT,                               -- why paused
  thread_owner      TEXT,                               -- NULL = us; else the owning app id (handover)
  last_inbound_at   INTEGER,
  last_outbound_at  INTEGER,
  last_human_at     INTEGER,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  UNIQUE (account_id, participant_id)
);
CREATE INDEX conversations_tenant ON conversations(tenant_id);

CREATE TABLE messages (
  id               INTEGER PRIMARY KEY,
  tenant_id        INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  account_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  mid              TEXT NOT NULL,
  direction        TEXT NOT NULL CHECK (direction = 'in' OR direction = 'out'),
  sender_kind      TEXT NOT NULL CHECK (sender_kind = 'customer' OR sender_kind = 'ai' OR sender_kind = 'human' OR sender_kind = 'system'),
  kind             TEXT NOT NULL DEFAULT 'message',    -- message | postback | story_reply | ...
  text             TEXT,
  attachments      TEXT,                               -- JSON array, unified shape
  meta             TEXT,                               -- JSON: reply_to, referral, quick_reply, ...
  deleted          INTEGER NOT NULL DEFAULT 0,
  edit_count       INTEGER NOT NULL DEFAULT 0,
  sent_at          INTEGER NOT NULL,                   -- Meta's timestamp, seconds
  created_at       INTEGER NOT NULL,
  delivery_id      INTEGER REFERENCES deliveries(id) ON DELETE SET NULL,
  replied_at       INTEGER,                            -- inbound: when an answer was queued/handled
  UNIQUE (account_id, mid)
);
CREATE INDEX messages_conversation ON messages(conversation_id, sent_at);
CREATE INDEX messages_unreplied ON messages(tenant_id, conversation_id) WHERE direction = 'in' AND replied_at IS NULL;

CREATE TABLE message_edits (
  id          INTEGER PRIMARY KEY,
  message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  old_text    TEXT,
  new_text    TEXT,
  num_edit    INTEGER,
  at          INTEGER NOT NULL
);

-- Every outgoing message.  pending → sending → sent | failed | unknown;
-- draft/rejected for review; abandoned when a human gives up on an unknown.
CREATE TABLE outbox (
  id               INTEGER PRIMARY KEY,
  tenant_id        INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  account_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  conversation_id  INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
  origin           TEXT NOT NULL CHECK (origin = 'ai' OR origin = 'human' OR origin = 'template' OR origin = 'private_reply'),
  recipient        TEXT NOT NULL,                      -- IGSID/PSID, or comment id for private replies
  text             TEXT,
  payload          TEXT,                               -- full Send API message JSON if not plain text
  tag              TEXT,                               -- HUMAN_AGENT or NULL
  state            TEXT NOT NULL CHECK (state = 'draft' OR state = 'pending' OR state = 'sending' OR state = 'sent' OR state = 'failed' OR state = 'unknown' OR state = 'abandoned' OR state = 'rejected'),
  attempts         INTEGER NOT NULL DEFAULT 0,
  lease_owner      TEXT,
  lease_until      INTEGER,
  mid              TEXT,                               -- Meta's message id once sent
  error            TEXT,
  created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  sent_at          INTEGER
);
CREATE INDEX outbox_state ON outbox(state);
CREATE INDEX outbox_mid ON outbox(mid);

CREATE TABLE escalations (
  id               INTEGER PRIMARY KEY,
  tenant_id        INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  reason           TEXT NOT NULL,
  status           TEXT NOT NULL DEFAULT 'open' CHECK (status = 'open' OR status = 'resolved'),
  created_at       INTEGER NOT NULL,
  resolved_at      INTEGER,
  resolved_by      TEXT
);

-- Comments, live comments, mentions, Page feed comments.
CREATE TABLE comments (
  id                  INTEGER PRIMARY KEY,
  tenant_id           INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  account_id          INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  comment_id          TEXT NOT NULL,
  field               TEXT NOT NULL,                   -- comments | live_comments | mentions | feed
  media_id            TEXT,
  media_product_type  TEXT,
  parent_id           TEXT,
  from_id             TEXT,
  from_username       TEXT,
  text                TEXT,
  own                 INTEGER NOT NULL DEFAULT 0,      -- written by the business itself
  hidden              INTEGER NOT NULL DEFAULT 0,
  deleted             INTEGER NOT NULL DEFAULT 0,
  tags                TEXT NOT NULL DEFAULT '',
  assignee_user_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at          INTEGER NOT NULL,               -- Meta's time
  received_at         INTEGER NOT NULL,
  UNIQUE (account_id, comment_id)
);

-- Append-only.  UPDATE is always refused; DELETE only while an erasure runs
-- (lib/gdpr.c sets erasure_guard.active inside its transaction).
CREATE TABLE audit_log (
  id         INTEGER PRIMARY KEY,
  at         INTEGER NOT NULL,
  tenant_id  INTEGER,                                   -- no FK: the log outlives rows
  actor      TEXT NOT NULL,                             -- "owner", "key:<prefix>", "user:<email>", "meta"
  action     TEXT NOT NULL,                             -- e.g. tenant.create, authz.denied
  target     TEXT NOT NULL DEFAULT '',
  outcome    TEXT NOT NULL DEFAULT 'ok' CHECK (outcome = 'ok' OR outcome = 'denied' OR outcome = 'failed'),
  detail     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_tenant ON audit_log(tenant_id, at);

CREATE TABLE erasure_guard (active INTEGER NOT NULL);
INSERT INTO erasure_guard(active) VALUES (0);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN (SELECT active FROM erasure_guard) = 0
BEGIN
  SELECT RAISE(ABORT, 'audit log is append-only');
END;

-- Knowledge base (FTS5) and canned responses, per tenant and optionally per agent.
CREATE TABLE kb_articles (
  id          INTEGER PRIMARY KEY,
  tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  agent_id    INTEGER REFERENCES agents(id) ON DELETE CASCADE,
  title       TEXT NOT NULL,
  body        TEXT NOT NULL,
  tags        TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE VIRTUAL TABLE kb_fts USING fts5(title, body, tags, content='kb_articles', content_rowid='id');
CREATE TRIGGER kb_ai AFTER INSERT ON kb_articles BEGIN
  INSERT INTO kb_fts(rowid, title, body, tags) VALUES (new.id, new.title, new.body, new.tags);
END;
CREATE TRIGGER kb_ad AFTER DELETE ON kb_articles BEGIN
  INSERT INTO kb_fts(kb_fts, rowid, title, body, tags) VALUES ('delete', old.id, old.title, old.body, old.tags);
END;
CREATE TRIGGER kb_au AFTER UPDATE ON kb_articles BEGIN
  INSERT INTO kb_fts(kb_fts, rowid, title, body, tags) VALUES ('delete', old.id, old.title, old.body, old.tags);
  INSERT INTO kb_fts(rowid, title, body, tags) VALUES (new.id, new.title, new.body, new.tags);
END;

CREATE TABLE templates (
  id          INTEGER PRIMARY KEY,
  tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  agent_id    INTEGER REFERENCES agents(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  text        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (tenant_id, name)
);

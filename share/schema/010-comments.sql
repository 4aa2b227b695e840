-- 010-comments: what ig-comments needs beyond 001-core's comments table
-- (which ig-route fills from comment webhooks).
--
-- How a comment reached the store: 'webhook' (ig-route) or 'sync' (found by
-- `ig-comments sync` although no webhook delivered it: the gap report).
ALTER TABLE comments ADD COLUMN source TEXT NOT NULL DEFAULT 'webhook';
-- The board: when a human marked it read; when a public reply of ours was
-- confirmed by Meta; the private reply (comment → DM): its state and time.
ALTER TABLE comments ADD COLUMN read_at INTEGER;
ALTER TABLE comments ADD COLUMN replied_at INTEGER;
ALTER TABLE comments ADD COLUMN dm_state TEXT;                 -- NULL | sent | unknown
ALTER TABLE comments ADD COLUMN dm_at INTEGER;
-- When the rules last looked at it (NULL: `moderate --pending` will).
ALTER TABLE comments ADD COLUMN moderated_at INTEGER;
ALTER TABLE comments ADD COLUMN like_count INTEGER;
CREATE INDEX comments_tenant_created ON comments(tenant_id, created_at);
CREATE INDEX comments_unmoderated ON comments(tenant_id, id) WHERE moderated_at IS NULL;
CREATE INDEX comments_parent ON comments(account_id, parent_id);

-- Media seen by sync (the account's own recent posts).
CREATE TABLE comment_media (
  id                  INTEGER PRIMARY KEY,
  tenant_id           INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  account_id          INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  media_id            TEXT NOT NULL,
  media_product_type  TEXT,
  caption             TEXT,
  permalink           TEXT,
  posted_at           INTEGER,
  comments_count      INTEGER,
  synced_at           INTEGER NOT NULL,
  UNIQUE (account_id, media_id)
);

-- Every moderation action: who, what, when, on which comment, state before
-- and after, Meta's request id.  pending → done | unknown | failed; refused
-- (not sent: Meta would refuse it); draft (an AI reply waiting for review).
-- 'unknown' is settled by the next sync reading the comment back, never by
-- sending again.
CREATE TABLE comment_actions (
  id           INTEGER PRIMARY KEY,
  tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  comment_row  INTEGER REFERENCES comments(id) ON DELETE CASCADE,
  comment_id   TEXT NOT NULL,                    -- Meta's id of the comment acted on
  media_id     TEXT,
  from_id      TEXT,                             -- the comment's author (loop guards)
  action       TEXT NOT NULL,                    -- reply hide unhide delete dm tag untag assign read escalate
  origin       TEXT NOT NULL DEFAULT 'human' CHECK (origin = 'human' OR origin = 'rule' OR origin = 'ai'),
  rule         TEXT,                             -- the rule that decided it ("name:line")
  actor        TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state = 'pending' OR state = 'done' OR state = 'unknown' OR state = 'failed' OR state = 'draft' OR state = 'rejected'),
  before       TEXT,                             -- JSON
  after        TEXT,                             -- JSON
  text         TEXT,                             -- reply / DM text
  result_id    TEXT,                             -- Meta's id of the reply, or the DM's mid
  trace_id     TEXT,                             -- Meta's fbtrace id when it gave one
  error        TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX comment_actions_comment ON comment_actions(comment_row, action);
CREATE INDEX comment_actions_tenant ON comment_actions(tenant_id, created_at);
CREATE INDEX comment_actions_media ON comment_actions(account_id, media_id, created_at);
CREATE INDEX comment_actions_open ON comment_actions(account_id, state) WHERE state = 'unknown' OR state = 'pending';

-- Rules as code: one text per tenant (scope '') and optionally per account
-- (scope = the account's external id); the account's rules run after the
-- tenant's.
CREATE TABLE comment_rules (
  tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  scope       TEXT NOT NULL DEFAULT '',
  text        TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  updated_by  TEXT NOT NULL,
  PRIMARY KEY (tenant_id, scope)
);

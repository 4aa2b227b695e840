-- 008-publish: ig-publish's content calendar, assets, the publishing worker's
-- journal and its failure notices.  Times are Unix seconds (INTEGER, UTC).
--
-- posts is a contract: ig-insights joins on posts(id, tenant_id, account_id,
-- type, state, media_id, permalink, created_at, updated_at) and post_skus.
--
-- state: draft → scheduled → publishing → published | failed | unknown;
-- cancelled by hand.  step says what the worker does next (ig-publish(1),
-- "State machine"): children, container, poll, publish, sent (a media_publish
-- is in flight or its answer was lost), settle, comment, permalink, done.

CREATE TABLE assets (
  id           INTEGER PRIMARY KEY,
  tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  kind         TEXT NOT NULL CHECK (kind = 'image' OR kind = 'video'),
  mime         TEXT NOT NULL,
  size         INTEGER,                     -- bytes, when known
  width        INTEGER,
  height       INTEGER,
  duration_ms  INTEGER,                     -- video, when known
  sha256       TEXT,                        -- hex, when the bytes were read
  url          TEXT NOT NULL,               -- the public URL Meta fetches
  local_path   TEXT,                        -- the local copy (under media_dir)
  title        TEXT NOT NULL DEFAULT '',
  tags         TEXT NOT NULL DEFAULT '',
  folder       TEXT NOT NULL DEFAULT '',
  created_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX assets_tenant ON assets(tenant_id, id);

CREATE TABLE posts (
  id             INTEGER PRIMARY KEY,
  tenant_id      INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  type           TEXT NOT NULL CHECK (type = 'image' OR type = 'carousel' OR type = 'reel' OR type = 'story'),
  state          TEXT NOT NULL CHECK (state = 'draft' OR state = 'scheduled' OR state = 'publishing'
                   OR state = 'published' OR state = 'failed' OR state = 'unknown' OR state = 'cancelled'),
  step           TEXT NOT NULL DEFAULT 'children',
  usage          TEXT NOT NULL DEFAULT 'organic',
  caption        TEXT NOT NULL DEFAULT '',
  location_id    TEXT,
  collaborators  TEXT,                      -- JSON array of usernames
  share_to_feed  INTEGER,                   -- reels: NULL = Meta's default
  cover_url      TEXT,
  thumb_offset   INTEGER,
  audio_name     TEXT,
  first_comment  TEXT,
  idem_key       TEXT,                      -- the caller's idempotency key
  scheduled_at   INTEGER,
  published_at   INTEGER,
  container_id   TEXT,                      -- the (parent) container
  container_at   INTEGER,                   -- when it was created (expires after 24 h)
  media_id       TEXT,                      -- Meta's media id once published
  permalink      TEXT,
  comment_state  TEXT NOT NULL DEFAULT 'none'
                   CHECK (comment_state = 'none' OR comment_state = 'pending' OR comment_state = 'sending'
                   OR comment_state = 'sent' OR comment_state = 'unknown' OR comment_state = 'failed'),
  comment_id     TEXT,
  polls          INTEGER NOT NULL DEFAULT 0,
  retries        INTEGER NOT NULL DEFAULT 0,
  not_before     INTEGER NOT NULL DEFAULT 0,   -- deferred (quota, rate limit) until
  publish_sent_at INTEGER,                     -- a media_publish left at
  lease_owner    TEXT,
  lease_until    INTEGER,
  error          TEXT,                      -- Meta's message or ours
  error_code     INTEGER,
  error_subcode  INTEGER,
  explain        TEXT,                      -- what to fix, in plain words
  created_by     INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  UNIQUE (tenant_id, idem_key)
);
CREATE INDEX posts_tenant ON posts(tenant_id, scheduled_at);
CREATE INDEX posts_due ON posts(state, scheduled_at)
  WHERE state = 'scheduled' OR state = 'publishing' OR state = 'unknown' OR state = 'published';
CREATE INDEX posts_media ON posts(media_id);

CREATE TABLE post_media (
  post_id       INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  position      INTEGER NOT NULL,
  tenant_id     INTEGER NOT NULL,
  kind          TEXT NOT NULL CHECK (kind = 'image' OR kind = 'video'),
  url           TEXT NOT NULL,
  asset_id      INTEGER REFERENCES assets(id) ON DELETE SET NULL,
  alt_text      TEXT,
  user_tags     TEXT,                       -- JSON array [{username, x, y}]
  container_id  TEXT,                       -- carousel child container
  status        TEXT,                       -- its last status_code
  PRIMARY KEY (post_id, position)
);

CREATE TABLE post_skus (
  post_id    INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  tenant_id  INTEGER NOT NULL,
  sku        TEXT NOT NULL,
  PRIMARY KEY (post_id, sku)
);
CREATE INDEX post_skus_sku ON post_skus(tenant_id, sku);

-- Every step the worker took: Meta's ids, the request id, every error.
CREATE TABLE post_journal (
  id          INTEGER PRIMARY KEY,
  post_id     INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  tenant_id   INTEGER NOT NULL,
  at          INTEGER NOT NULL,
  step        TEXT NOT NULL,
  outcome     TEXT NOT NULL,              -- ok | wait | retry | failed | unknown | ...
  meta_id     TEXT,                       -- container / media / comment id
  request_id  TEXT,                       -- Meta's fbtrace id when known
  code        INTEGER,
  subcode     INTEGER,
  message     TEXT
);
CREATE INDEX post_journal_post ON post_journal(post_id, id);

-- Failure notices: a post that ended failed or unknown raises one, as an
-- escalation does for a conversation.
CREATE TABLE post_alerts (
  id           INTEGER PRIMARY KEY,
  tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  post_id      INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  reason       TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'open' CHECK (status = 'open' OR status = 'resolved'),
  created_at   INTEGER NOT NULL,
  resolved_at  INTEGER
);
CREATE UNIQUE INDEX post_alerts_open ON post_alerts(post_id) WHERE status = 'open';

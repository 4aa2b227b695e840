-- 009-insights: ig-insights' brand snapshots, media, insight values and the
-- cache bookkeeping (what was asked of Meta, when, with what outcome).
-- Times are Unix seconds (UTC).  Every row carries tenant_id; every row
-- hangs off its account, so erasing an account (ig-connect disconnect
-- --erase, Meta's data-deletion callback) or a tenant purges it by cascade.

-- Image bytes: profile pictures and media thumbnails, kept because Meta's
-- CDN links expire.  One copy per account and content (sha256).
CREATE TABLE insight_pictures (
  id            INTEGER PRIMARY KEY,
  tenant_id     INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  sha256        TEXT NOT NULL,
  content_type  TEXT NOT NULL,
  bytes         BLOB NOT NULL,
  fetched_at    INTEGER NOT NULL,
  UNIQUE (account_id, sha256)
);

-- The brand snapshot as history: a row per sync that saw the profile
-- (so a change of bio or username shows up with its time).
CREATE TABLE brand_snapshots (
  id                  INTEGER PRIMARY KEY,
  tenant_id           INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  account_id          INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  fetched_at          INTEGER NOT NULL,
  username            TEXT,
  name                TEXT,
  biography           TEXT,
  website             TEXT,
  followers_count     INTEGER,
  follows_count       INTEGER,
  media_count         INTEGER,
  profile_picture_url TEXT,
  picture_id          INTEGER REFERENCES insight_pictures(id) ON DELETE SET NULL
);
CREATE INDEX brand_snapshots_account ON brand_snapshots(account_id, fetched_at);

-- Media of an account as /<IG_ID>/media and /<IG_ID>/stories list them.
CREATE TABLE ig_media (
  id             INTEGER PRIMARY KEY,
  tenant_id      INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  media_id       TEXT NOT NULL,                 -- Meta's media id
  product_type   TEXT NOT NULL,                 -- FEED | REELS | STORY | AD | as Meta says
  media_type     TEXT,                          -- IMAGE | VIDEO | CAROUSEL_ALBUM
  caption        TEXT,
  permalink      TEXT,
  media_url      TEXT,
  thumbnail_url  TEXT,
  posted_at      INTEGER,
  like_count     INTEGER,
  comments_count INTEGER,
  thumb_id       INTEGER REFERENCES insight_pictures(id) ON DELETE SET NULL,
  first_seen_at  INTEGER NOT NULL,
  listed_at      INTEGER NOT NULL,
  UNIQUE (account_id, media_id)
);
-- (no tenant-first index: without statistics SQLite would prefer it to the
-- unique key for "account_id = ? AND tenant_id = ?" and scan the tenant)

-- One figure.  media_id '' = the account's own insights.  period 'day':
-- end_time is the end of the day Meta reported (time_series end_time, or
-- the until of a one-day total_value request); period 'lifetime' (media):
-- end_time is the end of the UTC day it was read, so each day keeps one
-- value and the history shows growth.  breakdown '' or
-- 'dimension=VALUE[,VALUE]'.  source 'api' or 'webhook' (story_insights).
CREATE TABLE insight_values (
  id          INTEGER PRIMARY KEY,
  tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  media_id    TEXT NOT NULL DEFAULT '',
  metric      TEXT NOT NULL,
  period      TEXT NOT NULL,
  breakdown   TEXT NOT NULL DEFAULT '',
  end_time    INTEGER NOT NULL,
  value       NUMERIC NOT NULL,
  source      TEXT NOT NULL DEFAULT 'api' CHECK (source = 'api' OR source = 'webhook'),
  fetched_at  INTEGER NOT NULL,
  UNIQUE (account_id, media_id, metric, period, breakdown, end_time)
);
-- No second index: every lookup names the account (the unique key's
-- prefix); a tenant-wide read scans, and a second index would cost every
-- sync's writes more than it saves.

-- The cache: what was asked of Meta for (account, media, group, day) and
-- when, with its outcome ('ok', 'empty' = no data yet, 'unavailable' =
-- Meta will never have it, e.g. 100/2108006 or too few viewers, 'error').
-- A value under 24 h old is not asked again (ig-insights(1) "Cache").
CREATE TABLE insight_fetches (
  account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  media_id    TEXT NOT NULL DEFAULT '',
  grp         TEXT NOT NULL,
  end_time    INTEGER NOT NULL,
  fetched_at  INTEGER NOT NULL,
  status      TEXT NOT NULL CHECK (status = 'ok' OR status = 'empty' OR status = 'unavailable' OR status = 'error'),
  note        TEXT,
  PRIMARY KEY (account_id, media_id, grp, end_time)
);

-- Per account: the last sync, the last --refresh (rate-limited), the
-- story_insights webhook deliveries already read.
CREATE TABLE insight_sync (
  account_id       INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  tenant_id        INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  last_sync_at     INTEGER,
  last_ok_at       INTEGER,
  last_refresh_at  INTEGER,
  last_rc          INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  requests         INTEGER NOT NULL DEFAULT 0,
  webhook_seen     INTEGER NOT NULL DEFAULT 0
);

-- 002-connect: what ig-connect needs beyond 001-core.

-- The Meta user who authorised the account: the Instagram user id (Instagram
-- Login) or the app-scoped Facebook user id (Facebook Login).  Meta's
-- deauthorize and data-deletion callbacks name this user (reference §8).
ALTER TABLE accounts ADD COLUMN login_user_id TEXT;
CREATE INDEX accounts_login_user ON accounts(login_user_id);

-- Data-deletion requests received from Meta, so the status URL handed back
-- can show what was done.  Only a hash of the user id is kept: the request
-- is about erasing that user.
CREATE TABLE deletion_requests (
  code          TEXT PRIMARY KEY,                 -- confirmation code shown to the user
  user_hash     TEXT NOT NULL,                    -- SHA-256 hex of the user id
  status        TEXT NOT NULL CHECK (status = 'received' OR status = 'completed'),
  accounts      INTEGER NOT NULL DEFAULT 0,       -- accounts erased
  received_at   INTEGER NOT NULL,
  completed_at  INTEGER
);

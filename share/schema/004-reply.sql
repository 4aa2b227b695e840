-- 004-reply: what ig-reply needs beyond 001-core.
--
-- llm_usage: tokens spent on the openai engine, per tenant per UTC day
-- ("YYYY-MM-DD"), for the llm_daily_token_cap setting and for billing.
CREATE TABLE llm_usage (
  tenant_id          INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  day                TEXT NOT NULL,
  prompt_tokens      INTEGER NOT NULL DEFAULT 0,
  completion_tokens  INTEGER NOT NULL DEFAULT 0,
  total_tokens       INTEGER NOT NULL DEFAULT 0,
  calls              INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day)
);

-- Canned responses are searched by the kb engine like the articles.
CREATE VIRTUAL TABLE templates_fts USING fts5(name, text, content='templates', content_rowid='id');
CREATE TRIGGER templates_ai AFTER INSERT ON templates BEGIN
  INSERT INTO templates_fts(rowid, name, text) VALUES (new.id, new.name, new.text);
END;
CREATE TRIGGER templates_ad AFTER DELETE ON templates BEGIN
  INSERT INTO templates_fts(templates_fts, rowid, name, text) VALUES ('delete', old.id, old.name, old.text);
END;
CREATE TRIGGER templates_au AFTER UPDATE ON templates BEGIN
  INSERT INTO templates_fts(templates_fts, rowid, name, text) VALUES ('delete', old.id, old.name, old.text);
  INSERT INTO templates_fts(rowid, name, text) VALUES (new.id, new.name, new.text);
END;
INSERT INTO templates_fts(templates_fts) VALUES ('rebuild');

-- The scan of `ig-reply --pending` walks conversations whose 24 h window is
-- open; the loop guard counts a conversation's recent automated replies;
-- lease recovery looks for pending/sending rows by state and lease.
CREATE INDEX conversations_inbound ON conversations(last_inbound_at);
CREATE INDEX outbox_conversation ON outbox(conversation_id, created_at);
CREATE INDEX outbox_lease ON outbox(state, lease_until);

-- Which outbox row answered an inbound message (NULL: not answered, or
-- handled without a reply — escalated, or answered by a human).
ALTER TABLE messages ADD COLUMN reply_outbox_id INTEGER REFERENCES outbox(id) ON DELETE SET NULL;

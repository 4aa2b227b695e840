-- 011-kb.sql — the kb engine in every language (issue 14).
--
-- The full-text tables stay on FTS5's own unicode61 tokenizer, now folding
-- every diacritic ("piu" finds "più"): they only pick the candidates by word
-- prefix.  Stemming, stop words and synonyms are applied in C (lib/textnorm.c,
-- lib/kb.c) in the asking agent's language, so no connection ever needs a
-- custom tokenizer — a cascade from tenant-admin or a GDPR erasure deletes
-- index rows with plain SQL.  Prefix indexes of 2 to 5 letters serve those
-- candidate queries (kb.c asks for at most 5).
DROP TRIGGER kb_ai;
DROP TRIGGER kb_ad;
DROP TRIGGER kb_au;
DROP TABLE kb_fts;
CREATE VIRTUAL TABLE kb_fts USING fts5(title, body, tags, content='kb_articles', content_rowid='id',
  tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5');
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
INSERT INTO kb_fts(kb_fts) VALUES ('rebuild');

DROP TRIGGER templates_ai;
DROP TRIGGER templates_ad;
DROP TRIGGER templates_au;
DROP TABLE templates_fts;
CREATE VIRTUAL TABLE templates_fts USING fts5(name, text, content='templates', content_rowid='id',
  tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5');
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

-- Synonyms the business knows, tenant-wide (agent_id NULL) or for one agent:
-- one row per pair, matched both ways at query time.  word and alt are kept
-- as typed (a phrase is allowed: "pagare alla consegna" ~ "contrassegno")
-- and normalised in the asking agent's language when a question comes.
CREATE TABLE kb_synonyms (
  id          INTEGER PRIMARY KEY,
  tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  agent_id    INTEGER REFERENCES agents(id) ON DELETE CASCADE,
  word        TEXT NOT NULL CHECK (length(word) BETWEEN 1 AND 200),
  alt         TEXT NOT NULL CHECK (length(alt) BETWEEN 1 AND 200),
  created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX kb_synonyms_pair ON kb_synonyms (tenant_id, COALESCE(agent_id, 0), word, alt);

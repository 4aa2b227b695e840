#!/usr/bin/env python3
"""The intake a user would write instead of ig-route (the yardstick of
tests/bench/route.sh): read an envelope stream ({"headers": {...}, "body":
"..."} per line), verify X-Hub-Signature-256, store the raw delivery, upsert
the conversation and insert the message.  Same durability as ig-route's pipe
mode: WAL, synchronous=FULL, one transaction per batch.

    naive_intake.py DB SECRET_FILE BATCH < envelopes.jsonl

Prints the events per second it reached (the stream's parse included).
"""
import hashlib
import hmac
import json
import sqlite3
import sys
import time

db_path, secret_file, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
secret = open(secret_file, "rb").read().strip()
db = sqlite3.connect(db_path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.executescript("""
CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL,
    signature TEXT, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (id INTEGER PRIMARY KEY, account TEXT NOT NULL,
    participant TEXT NOT NULL, last_inbound_at INTEGER, UNIQUE (account, participant));
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL
    REFERENCES conversations(id), account TEXT NOT NULL, mid TEXT NOT NULL, text TEXT,
    sent_at INTEGER NOT NULL, delivery_id INTEGER, UNIQUE (account, mid));
""")

n = bad = 0
t0 = time.perf_counter()
db.execute("BEGIN")
for line in sys.stdin.buffer:
    env = json.loads(line)
    body = env["body"].encode()
    sig = env.get("headers", {}).get("X-Hub-Signature-256", "")
    want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sig, want):
        bad += 1
        continue
    now = int(time.time())
    did = db.execute("INSERT INTO deliveries(received_at, signature, body) VALUES (?, ?, ?)",
                     (now, sig, body)).lastrowid
    for entry in json.loads(body).get("entry", []):
        for m in entry.get("messaging", []):
            if "message" not in m:
                continue
            acct, who = m["recipient"]["id"], m["sender"]["id"]
            at = m["timestamp"] // 1000
            cid = db.execute(
                "INSERT INTO conversations(account, participant, last_inbound_at) VALUES (?, ?, ?)"
                " ON CONFLICT(account, participant) DO UPDATE SET last_inbound_at ="
                " max(last_inbound_at, excluded.last_inbound_at) RETURNING id",
                (acct, who, at)).fetchone()[0]
            db.execute("INSERT INTO messages(conversation_id, account, mid, text, sent_at, delivery_id)"
                       " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(account, mid) DO NOTHING",
                       (cid, acct, m["message"]["mid"], m["message"].get("text"), at, did))
    n += 1
    if n % batch == 0:
        db.execute("COMMIT")
        db.execute("BEGIN")
db.execute("COMMIT")
print("%.0f" % (n / (time.perf_counter() - t0)))

-- 004-reply: reserved for the reply module; no changes yet.
SELECT 1;

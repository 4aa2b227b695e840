-- 002-connect: reserved for the connect module; no changes yet.
SELECT 1;

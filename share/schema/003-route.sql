-- 003-route: reserved for the route module; no changes yet.
SELECT 1;

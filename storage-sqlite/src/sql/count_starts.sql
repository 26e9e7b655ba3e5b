-- Counts the starts of one claim at ?2 toward the rates they fall under: ?1 is a JSON
-- array of [scope, name, starts], one per key and per queue of the claimed jobs (the
-- number of them each holds). A scope with no rate stored counts nothing. A row per
-- scope, however many of its jobs the claim took; the triggers of migration 0010 add
-- it to the scope's rate_counted and trim the scope to its latest rate_starts.
INSERT INTO limit_starts (scope, name, at, starts)
SELECT limits.scope, limits.name, ?2, claimed.value ->> 2
FROM json_each(?1) AS claimed
JOIN limits
  ON limits.scope = claimed.value ->> 0 AND limits.name = claimed.value ->> 1
WHERE limits.rate_starts IS NOT NULL

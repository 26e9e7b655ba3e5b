-- Takes lock $1 for holder $2 until $3 if it is free at $4 (never taken, or held until
-- $4 or earlier) or $2 holds it already (a renewal). One upsert: racing takers of a
-- free lock insert once and the others find the row, each deciding on the row as the
-- winner left it. Returns a row when $2 holds the lock afterwards.
INSERT INTO {schema}.locks AS l (name, holder, until)
VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
WHERE l.until <= $4 OR l.holder = excluded.holder
RETURNING l.holder

-- Takes lock ?1 for holder ?2 until ?3, as of ?4: inserts it, or takes it over when it
-- expired (until <= ?4) or ?2 holds it already (a renewal). Affects no row while
-- another holder's lease on it is live.
INSERT INTO locks (name, holder, until)
VALUES (?1, ?2, ?3)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
WHERE locks.until <= ?4 OR locks.holder = excluded.holder

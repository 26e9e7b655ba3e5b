-- Sets queue ?1 paused (?2 = 1) or not (?2 = 0) at ?3, if it is known: a job of it is
-- stored or it has a row already. Affects no row for an unknown queue.
INSERT INTO queues (name, paused, updated_at)
SELECT ?1, ?2, ?3
WHERE EXISTS (SELECT 1 FROM jobs WHERE queue = ?1)
   OR EXISTS (SELECT 1 FROM queues WHERE name = ?1)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at

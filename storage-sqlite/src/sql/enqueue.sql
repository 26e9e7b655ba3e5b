-- Inserts a pending job (available when due at ?9, else scheduled); stores nothing when a
-- non-terminal job holds its unique key.
-- ?1 id, ?2 kind, ?3 queue, ?4 payload, ?5 priority, ?6 run_at, ?7 max_attempts,
-- ?8 unique_key, ?9 created_at.
INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt, max_attempts,
                  lease_token, unique_key, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?6 <= ?9 THEN 'available' ELSE 'scheduled' END, ?6, 0,
        ?7, 0, ?8, ?9)
ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available', 'running')
DO NOTHING

-- Inserts a pending job; stores nothing when a non-terminal job holds its unique key.
-- ?1 id, ?2 kind, ?3 queue, ?4 payload, ?5 priority, ?6 run_at, ?7 max_attempts,
-- ?8 unique_key, ?9 created_at.
INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt, max_attempts,
                  lease_token, unique_key, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, 0, ?7, 0, ?8, ?9)
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending', 'running')
DO NOTHING

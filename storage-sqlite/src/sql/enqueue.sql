-- Inserts a pending job (available when due at ?9, else scheduled; waiting when it has
-- dependencies, for leasehold_sql::dependency to start); stores nothing when a
-- non-terminal job holds its unique key, or, with a unique period (?12 not NULL), when a
-- job holding the key ended in one of the states of the JSON array ?13 after ?12.
-- ?1 id, ?2 kind, ?3 queue, ?4 payload, ?5 priority, ?6 run_at, ?7 max_attempts,
-- ?8 unique_key, ?9 created_at, ?10 tags (a JSON array), ?11 metadata (a JSON object),
-- ?12 the start of the unique period, ?13 the unique states, ?14 limit_key (NULL: none),
-- ?15 depends_on (a JSON array of ids; NULL: none), ?16 on_dependency_failure.
INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt, max_attempts,
                  lease_token, unique_key, created_at, tags, metadata, limit_key,
                  depends_on, on_dependency_failure)
SELECT ?1, ?2, ?3, ?4, ?5,
       CASE WHEN ?15 IS NOT NULL THEN 'waiting'
            WHEN ?6 <= ?9 THEN 'available'
            ELSE 'scheduled' END,
       ?6, 0, ?7, 0, ?8, ?9, ?10, ?11, ?14, ?15, ?16
WHERE ?12 IS NULL OR NOT EXISTS (
    SELECT 1 FROM jobs
    WHERE unique_key = ?8
      AND state IN ('completed', 'failed', 'cancelled')
      AND state IN (SELECT value FROM json_each(?13))
      AND finished_at > ?12
)
ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL
      AND (state = 'waiting' OR state = 'scheduled' OR state = 'available'
           OR state = 'running')
DO NOTHING

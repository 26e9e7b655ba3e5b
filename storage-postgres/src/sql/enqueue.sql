-- Inserts a pending job; stores nothing when a non-terminal job holds its unique key
-- (a racing insert of the key waits for the holder's transaction, then does nothing).
-- When it inserts, it notifies channel $10 with the job's queue: delivered when the
-- transaction commits, and PostgreSQL folds repeats of one payload within a
-- transaction, so a batch into one queue sends one notification.
-- $1 id, $2 kind, $3 queue, $4 payload (JSON text), $5 priority, $6 run_at,
-- $7 max_attempts, $8 unique_key, $9 created_at, $10 channel. Returns the id when it
-- inserted.
WITH inserted AS (
    INSERT INTO {schema}.jobs (id, kind, queue, payload, priority, state, run_at, attempt,
                               max_attempts, lease_token, unique_key, created_at)
    VALUES ($1, $2, $3, $4::json, $5, 'pending', $6, 0, $7, 0, $8, $9)
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending', 'running')
    DO NOTHING
    RETURNING id, queue
)
SELECT id, pg_notify($10, left(queue, 4000)) IS NULL AS notified
FROM inserted

-- Inserts a pending job; stores nothing when a non-terminal job holds its unique key
-- (a racing insert of the key waits for the holder's transaction, then does nothing),
-- nor, with a unique period, when a job holding the key ended in one of the unique
-- states after the period's start (an uncorrelated test, evaluated once, on the
-- jobs_unique_finished index). When it inserts, it notifies channel $17 with the job's
-- queue: delivered when the transaction commits, and PostgreSQL folds repeats of one
-- payload within a transaction, so a batch into one queue sends one notification.
-- $1 id, $2 kind, $3 queue, $4 payload (JSON text), $5 priority, $6 run_at,
-- $7 max_attempts, $8 unique_key, $9 created_at, $10 tags (JSON array text),
-- $11 metadata (JSON object text), $12 the unique period's start (NULL: no period),
-- $13 the unique states (JSON array of stored state names), $14 the limit key (NULL:
-- none), $15 the dependencies (a JSON array of ids; NULL: none, else the job goes in
-- waiting, for leasehold_sql::dependency to start), $16 their policy, $17 channel.
-- Returns the id when it inserted.
WITH inserted AS (
    INSERT INTO {schema}.jobs (id, kind, queue, payload, priority, state, run_at, attempt,
                               max_attempts, lease_token, unique_key, created_at, tags,
                               metadata, limit_key, depends_on, on_dependency_failure)
    SELECT $1, $2, $3, $4::json, $5,
           CASE WHEN $15::jsonb IS NULL THEN 'pending' ELSE 'waiting' END,
           $6, 0, $7, 0, $8, $9, $10::jsonb, $11::json, $14, $15::jsonb, $16
    WHERE $12::bigint IS NULL OR NOT EXISTS (
        SELECT FROM {schema}.jobs
        WHERE unique_key = $8
          AND state IN ('completed', 'failed', 'cancelled')
          AND finished_at > $12
          AND $13::jsonb ? state
    )
    ON CONFLICT (unique_key)
        WHERE unique_key IS NOT NULL AND state IN ('waiting', 'pending', 'running')
    DO NOTHING
    RETURNING id, queue
)
SELECT id, pg_notify($17, left(queue, 4000)) IS NULL AS notified
FROM inserted

-- Inserts pending jobs without unique keys, one per element of the arrays $1 id,
-- $2 kind, $3 queue, $4 payload (JSON text), $5 priority, $6 run_at, $7 max_attempts,
-- $8 tags (JSON array text), $9 metadata (JSON object text), $12 limit key (NULL:
-- none), all created at $10; then notifies channel $11 once per distinct queue
-- (delivered when the transaction commits). Answers how many it inserted. A duplicate id fails the whole statement.
WITH inserted AS (
    INSERT INTO {schema}.jobs (id, kind, queue, payload, priority, state, run_at, attempt,
                               max_attempts, lease_token, created_at, tags, metadata,
                               limit_key)
    SELECT j.id, j.kind, j.queue, j.payload::json, j.priority, 'pending', j.run_at, 0,
           j.max_attempts, 0, $10, j.tags::jsonb, j.metadata::json, j.limit_key
    FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::smallint[],
                $6::bigint[], $7::bigint[], $8::text[], $9::text[], $12::text[])
         AS j (id, kind, queue, payload, priority, run_at, max_attempts, tags, metadata,
               limit_key)
    RETURNING queue
), notified AS (
    SELECT pg_notify($11, left(q.queue, 4000)) IS NULL AS sent
    FROM (SELECT DISTINCT queue FROM inserted) AS q
)
SELECT (SELECT count(*) FROM inserted) AS inserted,
       (SELECT count(*) FROM notified) AS queues

-- What a claim answers (claim_queue.sql, claim_queues.sql, claim_queue_simple.sql):
-- each leased job's row, whether any limit has a rate (`rated`), for the store to count
-- the claim's starts (count_starts.sql), and whether any limit is stored (`limited`),
-- for it to pick the next claim's statement: the same on every row (constant
-- subqueries, run once).
RETURNING id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
          first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key,
          depends_on, on_dependency_failure,
          (SELECT EXISTS (SELECT 1 FROM limits WHERE rate_starts IS NOT NULL)) AS rated,
          (SELECT EXISTS (SELECT 1 FROM limits)) AS limited

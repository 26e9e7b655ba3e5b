-- What a claim answers (claim_queue.sql, claim_queues.sql): each leased job's row, and
-- whether any limit has a rate (`rated`, the same on every row: a constant subquery,
-- run once), for the store to count the claim's starts (count_starts.sql).
RETURNING id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
          first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key,
          depends_on, on_dependency_failure,
          (SELECT EXISTS (SELECT 1 FROM limits WHERE rate_starts IS NOT NULL)) AS rated

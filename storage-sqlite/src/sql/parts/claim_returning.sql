-- What a claim answers (claim_chosen.sql, claim_queue_simple.sql): each leased job's
-- row, and whether any limit is stored (`limited`), for the store to pick the next
-- claim's statement: the same on every row (a constant subquery, run once).
RETURNING id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
          first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key,
          depends_on, on_dependency_failure,
          (SELECT EXISTS (SELECT 1 FROM limits)) AS limited

-- list.sql newest first: jobs by filter (?1 to ?7 and WHERE as list.sql), highest id first;
-- ?8 limit (NULL: none); ?9 only ids before it (the page cursor; NULL: from the newest).
SELECT id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
       first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key,
          depends_on, on_dependency_failure
FROM jobs
WHERE {where}
ORDER BY id DESC
LIMIT coalesce(?8, -1)

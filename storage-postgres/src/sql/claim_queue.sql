-- Leases up to $3 jobs of queue $1 to worker $5 until $4, in one statement (nothing
-- while an operator has paused the queue), when no stored limit bears on the claim:
-- - `failed` ends Failed at $2 the expired leases ($1, lease_until <= $2) on their last
--   attempt, with the error "lease expired", appended to their error history (which
--   keeps the latest $6 entries), limited or not;
-- - `ready` takes due pending jobs (run_at <= $2) and `expired` the expired leases with
--   attempts left, each in priority, run_at, id order (`ready` straight from the
--   jobs_ready index), skipping rows another claim has locked, so concurrent claims
--   never wait for each other and never take the same row;
-- - `due` keeps the first $3 of both; when a stored limit bears on them (of the queue,
--   or of a key one of them carries), `limit_check` says so, nothing is leased and the
--   answer's `limited` is true: the store claims again with claim_limited.sql, under
--   the limits' locks. Otherwise `leased` leases them (parts/pick_due.sql).
-- FOR UPDATE re-checks each locked row against the WHERE clause as it stands once
-- locked, so a row another claim took after this statement began is never taken again.
-- Answers one row per leased job, or one row of NULL job columns when none was, each
-- with `limited`.
WITH failed AS (
    UPDATE {schema}.jobs
    {expire_last_attempt}
    WHERE id IN (
        SELECT id FROM {schema}.jobs
        WHERE state = 'running' AND queue = $1
          AND NOT EXISTS (SELECT FROM {schema}.queues WHERE name = $1 AND paused)
          AND lease_until <= $2
          AND attempt >= max_attempts
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
), ready AS (
    SELECT id, queue, limit_key, priority, run_at FROM {schema}.jobs
    WHERE state = 'pending' AND queue = $1
      AND NOT EXISTS (SELECT FROM {schema}.queues WHERE name = $1 AND paused)
      AND run_at <= $2
    {claim_order}
), expired AS (
    SELECT id, queue, limit_key, priority, run_at FROM {schema}.jobs
    WHERE state = 'running' AND queue = $1
      AND NOT EXISTS (SELECT FROM {schema}.queues WHERE name = $1 AND paused)
      AND lease_until <= $2
      AND attempt < max_attempts
    {claim_order}
), {pick_due}

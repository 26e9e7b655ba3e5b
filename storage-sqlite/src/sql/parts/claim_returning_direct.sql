-- What a claim on the writer's own connection answers (claim_queue_simple.sql, as
-- `sql::CLAIM_QUEUE_SIMPLE_DIRECT` fills it): claim_returning.sql without the columns
-- the claim sets to values it was given (state, queue, lease_until, worker and
-- attempted_at), which `crate::direct` holds once for all the rows. Each returned
-- column is computed, stored with the row in a temporary table and read back before
-- the first row is answered: these five cost about a tenth of the claim.
RETURNING id, kind, payload, priority, run_at, attempt, max_attempts, lease_token, unique_key, last_error, created_at, finished_at,
          first_attempted_at, errors, output, tags, metadata, limit_key,
          depends_on, on_dependency_failure,
          (SELECT EXISTS (SELECT 1 FROM limits)) AS limited

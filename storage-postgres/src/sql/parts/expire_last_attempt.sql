-- What a claim writes on a job whose lease expired on its last attempt (the `failed`
-- CTE of claim_queue.sql, claim_queues.sql and claim_limited.sql): it ends Failed at
-- $2 with the error "lease expired", appended to its error history, which keeps the
-- latest $6 entries ($9 in claim_limited.sql).
SET state = 'failed',
        last_error = 'lease expired',
        errors = (
            SELECT jsonb_agg(h.entry ORDER BY h.n)
            FROM jsonb_array_elements(errors || jsonb_build_array(jsonb_build_object(
                     'attempt', attempt, 'at', $2::bigint, 'error', 'lease expired')))
                 WITH ORDINALITY AS h (entry, n)
            WHERE h.n > jsonb_array_length(errors) + 1 - $6
        ),
        finished_at = $2,
        lease_until = NULL

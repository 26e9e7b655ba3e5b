-- Records error ?4 on job ?1 under live lease ?2 and makes it pending at ?3 (as of ?5);
-- on its last attempt ends it Failed at ?5 instead. Either way the failed attempt
-- joins its error history, which keeps the latest 20 (leasehold::ERROR_HISTORY_LIMIT).
UPDATE jobs
SET state = CASE
        WHEN attempt >= max_attempts THEN 'failed'
        WHEN ?3 <= ?5 THEN 'available'
        ELSE 'scheduled'
    END,
    run_at = CASE WHEN attempt >= max_attempts THEN run_at ELSE ?3 END,
    finished_at = CASE WHEN attempt >= max_attempts THEN ?5 ELSE NULL END,
    last_error = ?4,
    errors = json_insert(
        CASE WHEN json_array_length(errors) >= 20 THEN json_remove(errors, '$[0]') ELSE errors END,
        '$[#]', json_object('attempt', attempt, 'at', ?5, 'error', ?4)),
    lease_until = NULL
WHERE id = ?1 AND state = 'running' AND lease_token = ?2
RETURNING state, run_at

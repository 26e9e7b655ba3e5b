-- Ends job ?1 Failed at ?4 with error ?3, if ?2 is its live lease; the failed attempt
-- joins its error history, which keeps the latest 20 (leasehold::ERROR_HISTORY_LIMIT).
UPDATE jobs
SET state = 'failed',
    last_error = ?3,
    errors = json_insert(
        CASE WHEN json_array_length(errors) >= 20 THEN json_remove(errors, '$[0]') ELSE errors END,
        '$[#]', json_object('attempt', attempt, 'at', ?4, 'error', ?3)),
    finished_at = ?4,
    lease_until = NULL
WHERE id = ?1 AND state = 'running' AND lease_token = ?2

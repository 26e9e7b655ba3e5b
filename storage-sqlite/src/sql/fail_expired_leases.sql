-- Ends Failed, at ?2, every job of the queues in the JSON array ?1 (but paused ones)
-- whose lease expired (lease_until <= ?2) on its last attempt; the lost attempt joins
-- its error history, which keeps the latest 20 (leasehold::ERROR_HISTORY_LIMIT).
UPDATE jobs
SET state = 'failed',
    last_error = 'lease expired',
    errors = json_insert(
        CASE WHEN json_array_length(errors) >= 20 THEN json_remove(errors, '$[0]') ELSE errors END,
        '$[#]', json_object('attempt', attempt, 'at', ?2, 'error', 'lease expired')),
    finished_at = ?2,
    lease_until = NULL
WHERE state = 'running'
  AND queue IN (SELECT value FROM json_each(?1) WHERE value NOT IN (SELECT name FROM queues WHERE paused = 1))
  AND lease_until <= ?2
  AND attempt >= max_attempts

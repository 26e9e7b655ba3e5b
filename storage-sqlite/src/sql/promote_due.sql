-- Makes available every scheduled job of the queues in the JSON array ?1 that is due
-- (run_at <= ?2), so that a claim reads only due rows.
UPDATE jobs
SET state = 'available'
WHERE state = 'scheduled'
  AND queue IN (SELECT value FROM json_each(?1))
  AND run_at <= ?2

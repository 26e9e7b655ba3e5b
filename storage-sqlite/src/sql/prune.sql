-- Deletes up to ?2 terminal jobs finished before ?1, oldest first (finished_at, id),
-- passing over those a waiting job depends on.
DELETE FROM jobs
WHERE id IN (
    SELECT id FROM jobs
    WHERE state IN ('completed', 'failed', 'cancelled') AND finished_at < ?1
      AND {not_waited_on}
    ORDER BY finished_at, id
    LIMIT ?2
)

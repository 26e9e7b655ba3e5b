-- Enables paused schedule $1 from slot $2 at $3.
UPDATE {schema}.schedules
SET enabled = TRUE, next_fire_at = $2, updated_at = $3
WHERE name = $1 AND NOT enabled

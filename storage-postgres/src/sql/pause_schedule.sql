-- Disables schedule $1 at $2, if it is enabled.
UPDATE {schema}.schedules
SET enabled = FALSE, updated_at = $2
WHERE name = $1 AND enabled

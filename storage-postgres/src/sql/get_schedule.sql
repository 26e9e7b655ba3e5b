-- The schedule named $1.
SELECT name, spec, kind, payload::text AS payload, queue, priority, max_attempts, missed, enabled, next_fire_at, last_fired_at, created_at, updated_at
FROM {schema}.schedules
WHERE name = $1

-- Up to $2 enabled schedules whose next slot is at or before $1, earliest first.
SELECT name, spec, kind, payload::text AS payload, queue, priority, max_attempts, missed, enabled, next_fire_at, last_fired_at, created_at, updated_at
FROM {schema}.schedules
WHERE enabled AND next_fire_at IS NOT NULL AND next_fire_at <= $1
ORDER BY next_fire_at, name
LIMIT $2

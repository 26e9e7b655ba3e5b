-- Inserts schedule $1 enabled, or replaces its definition, keeping its next slot when
-- the spec is unchanged and a pause: on_schedule_conflict.sql of leasehold-sql, which
-- takes the stored next slot $9 only for a new schedule or a changed spec.
-- $1 name, $2 spec, $3 kind, $4 payload, $5 queue, $6 priority, $7 max_attempts,
-- $8 missed, $9 next_fire_at, $10 the time given.
INSERT INTO {schema}.schedules (name, spec, kind, payload, queue, priority, max_attempts,
                                missed, enabled, next_fire_at, created_at, updated_at)
VALUES ($1, $2, $3, $4::json, $5, $6, $7, $8, TRUE, $9, $10, $10)
{on_schedule_conflict}
RETURNING name, spec, kind, payload::text AS payload, queue, priority, max_attempts, missed, enabled, next_fire_at, last_fired_at, created_at, updated_at

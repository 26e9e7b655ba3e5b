-- Inserts schedule $1 enabled, or replaces its definition. The stored next slot $9 is
-- taken only for a new schedule or a changed spec (on the right of SET, unqualified
-- columns are the old row's), and a paused schedule stays paused.
-- $1 name, $2 spec, $3 kind, $4 payload, $5 queue, $6 priority, $7 max_attempts,
-- $8 missed, $9 next_fire_at, $10 the time given.
INSERT INTO {schema}.schedules AS s (name, spec, kind, payload, queue, priority, max_attempts,
                                     missed, enabled, next_fire_at, created_at, updated_at)
VALUES ($1, $2, $3, $4::json, $5, $6, $7, $8, TRUE, $9, $10, $10)
ON CONFLICT (name) DO UPDATE SET
    next_fire_at = CASE WHEN s.spec = excluded.spec
                        THEN s.next_fire_at ELSE excluded.next_fire_at END,
    spec = excluded.spec,
    kind = excluded.kind,
    payload = excluded.payload,
    queue = excluded.queue,
    priority = excluded.priority,
    max_attempts = excluded.max_attempts,
    missed = excluded.missed,
    updated_at = excluded.updated_at
RETURNING name, spec, kind, payload::text AS payload, queue, priority, max_attempts, missed, enabled, next_fire_at, created_at, updated_at

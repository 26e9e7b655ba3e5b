-- One row per schedule, by its unique name. `spec` and `missed` hold the core's serde
-- forms (validated again when read back); times are integer microseconds given by the
-- caller, never read from the database's clock.
CREATE TABLE schedules (
    name         TEXT    NOT NULL PRIMARY KEY,
    spec         TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    priority     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    missed       TEXT    NOT NULL,
    enabled      INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    next_fire_at INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

-- Enabled schedules by next slot: due_schedules reads only the due ones.
CREATE INDEX schedules_due ON schedules (next_fire_at, name)
    WHERE enabled = 1 AND next_fire_at IS NOT NULL;

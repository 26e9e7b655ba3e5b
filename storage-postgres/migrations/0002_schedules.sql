-- One row per schedule, by its unique name. `spec` and `missed` hold the core's serde
-- forms as text (validated again when read back, and compared as text to tell a
-- changed spec); times are BIGINT microseconds given by the caller.
CREATE TABLE schedules (
    name         TEXT     NOT NULL PRIMARY KEY,
    spec         TEXT     NOT NULL,
    kind         TEXT     NOT NULL,
    payload      JSON     NOT NULL,
    queue        TEXT     NOT NULL,
    priority     SMALLINT NOT NULL,
    max_attempts BIGINT   NOT NULL CHECK (max_attempts >= 1),
    missed       TEXT     NOT NULL,
    enabled      BOOLEAN  NOT NULL,
    next_fire_at BIGINT,
    created_at   BIGINT   NOT NULL,
    updated_at   BIGINT   NOT NULL
);

-- Enabled schedules by next slot: due_schedules reads only the due ones.
CREATE INDEX schedules_due ON schedules (next_fire_at, name)
    WHERE enabled AND next_fire_at IS NOT NULL;

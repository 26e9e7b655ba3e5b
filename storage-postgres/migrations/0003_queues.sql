-- One row per queue an operator has paused (and kept after a resume, so the name stays
-- known). A queue without a row is not paused. Times are BIGINT microseconds given by
-- the caller.
CREATE TABLE queues (
    name       TEXT    NOT NULL PRIMARY KEY,
    paused     BOOLEAN NOT NULL,
    updated_at BIGINT  NOT NULL
);

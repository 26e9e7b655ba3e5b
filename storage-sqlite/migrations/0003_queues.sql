-- One row per queue an operator has paused (and kept after a resume, so the name stays
-- known). A queue without a row is not paused. Times are integer microseconds given by
-- the caller.
CREATE TABLE queues (
    name       TEXT    NOT NULL PRIMARY KEY,
    paused     INTEGER NOT NULL CHECK (paused IN (0, 1)),
    updated_at INTEGER NOT NULL
) STRICT;

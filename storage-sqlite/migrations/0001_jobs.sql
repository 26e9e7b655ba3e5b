-- One row per job. Times are integer microseconds since the Unix epoch and always come
-- from the caller: no statement in this crate reads the database's clock.
--
-- Stored states: 'scheduled' (pending, not yet due when last written) and 'available'
-- (pending and due; a claim moves due scheduled rows here first), 'running', and the
-- terminal 'completed', 'failed', 'cancelled'. Which pending state a job reports is
-- decided by run_at against the time the store is given, not by the stored one. A
-- retry goes back to 'scheduled' with a later run_at.
CREATE TABLE jobs (
    id           BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    kind         TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    priority     INTEGER NOT NULL,
    state        TEXT    NOT NULL
        CHECK (state IN ('scheduled', 'available', 'running', 'completed', 'failed',
                         'cancelled')),
    run_at       INTEGER NOT NULL,
    attempt      INTEGER NOT NULL CHECK (attempt >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    lease_token  INTEGER NOT NULL CHECK (lease_token >= 0),
    lease_until  INTEGER,
    worker       TEXT,
    unique_key   TEXT,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
) STRICT;

-- Ready rows in claim order: one queue's due jobs come out sorted, so a claim reads
-- only the rows it takes, however many jobs wait for later.
CREATE INDEX jobs_ready ON jobs (queue, priority, run_at, id) WHERE state = 'available';

-- Rows waiting for their time: a claim promotes the due ones to 'available'.
CREATE INDEX jobs_scheduled ON jobs (queue, run_at) WHERE state = 'scheduled';

-- Running rows by lease expiry: the claim's rescue of expired leases and next_due.
CREATE INDEX jobs_leased ON jobs (queue, lease_until) WHERE state = 'running';

-- At most one non-terminal job per unique key; the enqueue upserts against it.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available', 'running');

-- Terminal rows by finish time: prune deletes from the old end in small batches.
CREATE INDEX jobs_finished ON jobs (finished_at, id)
    WHERE state IN ('completed', 'failed', 'cancelled');

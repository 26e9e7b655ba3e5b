-- One row per job. Applied with search_path set to the store's schema, so every name
-- here lands in that schema. Times are BIGINT microseconds since the Unix epoch and
-- always come from the caller: no statement in this crate reads the database's clock.
--
-- Stored states: 'pending' (Scheduled or Available, told apart by run_at against the
-- time the store is given), 'running', and the terminal 'completed', 'failed',
-- 'cancelled'. A retry goes back to 'pending' with a later run_at. Counters are
-- BIGINT because the core's are u32. The payload is `json` (not `jsonb`): it keeps the
-- text exactly as given, so a job reads back equal to what was enqueued.
CREATE TABLE jobs (
    id           UUID     NOT NULL PRIMARY KEY,
    kind         TEXT     NOT NULL,
    queue        TEXT     NOT NULL,
    payload      JSON     NOT NULL,
    priority     SMALLINT NOT NULL,
    state        TEXT     NOT NULL
        CHECK (state IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    run_at       BIGINT   NOT NULL,
    attempt      BIGINT   NOT NULL CHECK (attempt >= 0),
    max_attempts BIGINT   NOT NULL CHECK (max_attempts >= 1),
    lease_token  BIGINT   NOT NULL CHECK (lease_token >= 0),
    lease_until  BIGINT,
    worker       TEXT,
    unique_key   TEXT,
    last_error   TEXT,
    created_at   BIGINT   NOT NULL,
    finished_at  BIGINT
);

-- Ready rows in claim order: one queue's due jobs come out sorted, so a claim reads
-- only the rows it takes.
CREATE INDEX jobs_ready ON jobs (queue, priority, run_at, id) WHERE state = 'pending';

-- Running rows by lease expiry: the claim's rescue of expired leases and next_due.
CREATE INDEX jobs_leased ON jobs (queue, lease_until) WHERE state = 'running';

-- At most one non-terminal job per unique key; the enqueue's ON CONFLICT arbiter.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'running');

-- Terminal rows by finish time: prune deletes from the old end in small batches.
CREATE INDEX jobs_finished ON jobs (finished_at, id)
    WHERE state IN ('completed', 'failed', 'cancelled');

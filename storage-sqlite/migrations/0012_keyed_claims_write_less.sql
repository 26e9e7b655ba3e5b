-- A claim of keyed jobs writes two of the three key indexes it wrote. Claiming a job
-- (available -> running) took it out of jobs_pending_by_key, whose one reader is the
-- arm of next_due.sql that finds a full key's earliest pending job: with a claim's
-- jobs spread over many keys, that was a page of the index for each key, rewritten
-- at every claim (a claim of 64 jobs over 16 keys wrote 44 pages, 16 of them there).
--
-- - jobs_scheduled_by_key holds the keyed jobs that wait for their run_at (the
--   scheduled ones, which a claim never takes): next_due reads their earliest there.
-- - jobs_ready_by_key carries each job's queue as well, so that next_due reads the
--   earliest available job of a full key and of the queues it is asked for from the
--   index alone, as it read jobs_pending_by_key; the claim's walks seek it as before.
DROP INDEX jobs_pending_by_key;

CREATE INDEX jobs_scheduled_by_key ON jobs (limit_key, queue, run_at)
    WHERE state = 'scheduled' AND limit_key IS NOT NULL;

DROP INDEX jobs_ready_by_key;

CREATE INDEX jobs_ready_by_key ON jobs (limit_key, priority, run_at, id, queue)
    WHERE state = 'available' AND limit_key IS NOT NULL;

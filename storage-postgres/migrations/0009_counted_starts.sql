-- Starts counted per claim, not per job: a row of limit_starts says how many starts
-- (`starts`) a scope's rate counted at one time, so a claim of 64 jobs over 16 keys
-- writes 17 rows (16 keys and the queue) where it wrote 128. limits.rate_counted is the
-- sum of a scope's starts. Every existing row is one start. (A constant default: no
-- table rewrite.)
ALTER TABLE limit_starts ADD COLUMN starts BIGINT NOT NULL DEFAULT 1 CHECK (starts >= 1);

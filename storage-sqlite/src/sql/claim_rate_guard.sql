-- Fails (a primary key violation on limits) when any limit has a rate, and changes
-- nothing otherwise: the first statement of a claim sent whole in one call, which
-- cannot count its starts (count_starts.sql needs the claimed jobs, which only the
-- store sees). The writer then runs the claim the ordinary way, which counts them.
INSERT INTO limits
SELECT * FROM limits WHERE rate_starts IS NOT NULL LIMIT 1

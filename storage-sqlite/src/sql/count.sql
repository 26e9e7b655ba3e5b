-- How many jobs match; the parameters are those of list.sql without the limit. Its WHERE
-- is the terms of the filter at hand, written by filter.rs.
SELECT count(*)
FROM jobs
WHERE {where}

-- How many jobs match; the parameters are those of list.sql without the limit.
SELECT count(*)
FROM {schema}.jobs
WHERE {filter}

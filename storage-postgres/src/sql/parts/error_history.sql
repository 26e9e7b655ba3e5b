-- The job's error history with the failed attempt appended, for fail.sql and
-- retry.sql, each of which names the attempt's values `failure`: its error, the time
-- it failed at (microseconds) and how many entries the history keeps (the oldest go).
-- The entry is an object of the attempt, the time and the error.
(
    SELECT jsonb_agg(h.entry ORDER BY h.n)
    FROM jsonb_array_elements(errors || jsonb_build_array(jsonb_build_object(
             'attempt', attempt, 'at', failure.at, 'error', failure.error)))
         WITH ORDINALITY AS h (entry, n)
    WHERE h.n > jsonb_array_length(errors) + 1 - failure.kept
)

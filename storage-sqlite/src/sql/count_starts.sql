-- Counts the starts of the jobs a full claim chose (temp.leasehold_claimed) and leased
-- at ?2 toward the rates they fall under: a row per key and per queue of those jobs
-- whose limit has a rate, with the number of them it holds. A scope with no rate
-- stored counts nothing. The triggers of migration 0010 add each row to its scope's
-- rate_counted and trim the scope to its latest rate_starts.
INSERT INTO limit_starts (scope, name, at, starts)
SELECT limits.scope, limits.name, ?2, claimed.starts
FROM (
    SELECT 'key' AS scope, jobs.limit_key AS name, count(*) AS starts
    FROM temp.leasehold_claimed AS chosen
    JOIN jobs ON jobs.id = chosen.id
    WHERE jobs.limit_key IS NOT NULL
    GROUP BY jobs.limit_key
    UNION ALL
    SELECT 'queue', jobs.queue, count(*)
    FROM temp.leasehold_claimed AS chosen
    JOIN jobs ON jobs.id = chosen.id
    GROUP BY jobs.queue
) AS claimed
JOIN limits ON limits.scope = claimed.scope AND limits.name = claimed.name
WHERE limits.rate_starts IS NOT NULL

-- The schema versions this database has applied.
SELECT version
FROM _leasehold_migrations
ORDER BY version

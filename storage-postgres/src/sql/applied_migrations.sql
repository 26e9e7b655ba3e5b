-- The schema versions the store's schema has applied.
SELECT version
FROM {schema}._leasehold_migrations
ORDER BY version

-- The names of the database's own tables (SQLite's internal ones left out).
SELECT name
FROM sqlite_schema
WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY name

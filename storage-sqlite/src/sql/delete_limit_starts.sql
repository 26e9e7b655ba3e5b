-- Deletes the starts counted for scope ?1 ('key' or 'queue') named ?2, with its limit.
DELETE FROM limit_starts WHERE scope = ?1 AND name = ?2

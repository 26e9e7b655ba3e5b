-- Deletes the limit of scope ?1 ('key' or 'queue') named ?2; affects no row when it
-- has none.
DELETE FROM limits WHERE scope = ?1 AND name = ?2

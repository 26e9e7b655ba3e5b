-- Empties the ids a full claim chose (claimed_table.sql).
DELETE FROM temp.leasehold_claimed

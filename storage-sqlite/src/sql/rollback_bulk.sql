-- Undoes a bulk insert's statements since its savepoint (release_bulk.sql then
-- closes it).
ROLLBACK TO leasehold_bulk

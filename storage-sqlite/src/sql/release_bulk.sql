-- Closes a bulk insert's savepoint, keeping what it wrote.
RELEASE leasehold_bulk

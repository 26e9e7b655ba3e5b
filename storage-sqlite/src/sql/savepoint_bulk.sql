-- Opens the savepoint a multi-statement bulk insert runs under.
SAVEPOINT leasehold_bulk

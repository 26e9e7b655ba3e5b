-- The limits that bear on a claim of the queues in the array $1 at $2
-- (parts/limits_in_claim.sql), each row locked until the transaction ends, in scope
-- and name order (so claims that lock some of the same rows never deadlock): the
-- limited claim (claim_limited.sql) runs next in the same transaction, and any other
-- claim of one of these scopes, and any change of their limits, waits for it to end.
-- First, `bounded` sets the transaction's idle_in_transaction_session_timeout to $3
-- milliseconds (NULL: as it is): should the client be cut off between the statements
-- of the claim's transaction, the server ends the session and lets the limits go after
-- that long, instead of holding them until TCP gives up. (A pseudo-constant condition:
-- evaluated once, before any row is read.)
WITH bounded AS (
    SELECT set_config(
        'idle_in_transaction_session_timeout',
        COALESCE($3::text, current_setting('idle_in_transaction_session_timeout')),
        TRUE
    ) AS setting
)
SELECT l.scope, l.name
FROM {schema}.limits AS l
WHERE (SELECT setting FROM bounded) IS NOT NULL
  AND ({limits_in_claim_queues})
ORDER BY l.scope, l.name
FOR UPDATE OF l

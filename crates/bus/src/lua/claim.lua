-- A worker moved task_id into its processing list with BLMOVE (the queue was empty when it
-- asked); now it takes the lease.
-- KEYS: leases. ARGV: prefix, task_id, token, worker, lease_until_ms, live_ttl, channel, first_head,
-- first_tail
-- Returns what take() returns.
return take(ARGV[1], KEYS[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9])

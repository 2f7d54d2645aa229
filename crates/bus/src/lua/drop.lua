-- Let go of a task id that has no job any more (cancelled before or while it ran).
-- KEYS: leases, processing. ARGV: task_id
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('LREM', KEYS[2], 1, ARGV[1])

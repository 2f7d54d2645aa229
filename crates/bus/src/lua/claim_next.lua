-- Takes the next queued job in one round trip, without blocking: move its id to this worker's
-- processing list and take the lease. Keys of the job and task are built from the prefix (the
-- id is only known here), like maintain.lua does.
-- KEYS: queue, processing, leases. ARGV: prefix, token, worker, lease_until_ms, live_ttl, channel,
-- first_head, first_tail
-- Returns false when the queue is empty, else what take() returns.
local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
if not id then
  return false
end
return take(ARGV[1], KEYS[3], id, ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8])

-- A worker leaving: every task id still in its processing list goes back to the queue (front),
-- its lease and claim cleared; ids whose job is gone are just dropped.
-- KEYS: processing, leases, queue, workers. ARGV: prefix, worker
local released = 0
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local job = ARGV[1] .. ':job:' .. id
  redis.call('ZREM', KEYS[2], id)
  if redis.call('EXISTS', job) == 1 then
    redis.call('HDEL', job, 'token', 'worker')
    redis.call('RPUSH', KEYS[3], id)
    released = released + 1
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[4], ARGV[2])
return released

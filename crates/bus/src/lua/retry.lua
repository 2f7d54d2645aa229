-- A transient failure: log the retry event and park the job in the delayed set.
-- KEYS: job, task, log, leases, processing, delayed. ARGV: token, body, task_id, state, channel, ttl, ready_at_ms
local task = redis.call('HMGET', KEYS[2], 'state', 'seq')
if is_terminal(task[1]) then
  redis.call('LREM', KEYS[5], 1, ARGV[3])
  redis.call('ZREM', KEYS[4], ARGV[3])
  return 'cancelled'
end
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 'lost'
end
local event = append(KEYS[2], KEYS[3], ARGV[5], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6]), 0, task[2])
redis.call('HDEL', KEYS[1], 'token', 'worker')
redis.call('ZREM', KEYS[4], ARGV[3])
redis.call('LREM', KEYS[5], 1, ARGV[3])
redis.call('ZADD', KEYS[6], ARGV[7], ARGV[3])
-- Its queue wait counts from when it is due.
redis.call('HSET', KEYS[1], 'enqueued', ARGV[7])
return event

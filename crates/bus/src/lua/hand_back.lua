-- Graceful shutdown: return the job to the front of the queue without counting an attempt.
-- KEYS: job, leases, processing, queue. ARGV: token, task_id
redis.call('LREM', KEYS[3], 1, ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('HDEL', KEYS[1], 'token', 'worker')
-- Workers pop from the right: RPUSH puts the job first in line.
redis.call('RPUSH', KEYS[4], ARGV[2])
return 1

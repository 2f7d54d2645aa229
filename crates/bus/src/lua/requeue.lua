-- An operator queues a dead letter again. Postgres has already moved the task back to PENDING
-- (it arbitrates: of two requeues, or a requeue and anything else, one wins) and raised its
-- ceiling by one for this event. The task leaves the dead-letter list, gets a fresh job (attempts
-- 0: a new attempt budget) and its PENDING notice is numbered after the log's last event, so the
-- old log stays readable; when Redis has expired the task, its log restarts at `seq` (the
-- ceiling Postgres gave), above every seq handed out before.
-- KEYS: task, log, job, queue, dead. ARGV: body, task_id, owner, url, language, channel, ttl, seq
-- Returns the logged event.
redis.call('LREM', KEYS[5], 0, ARGV[2])
if redis.call('HEXISTS', KEYS[1], 'seq') == 0 then
  local base = tonumber(ARGV[8]) - 1
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'seq', base, 'base', base)
end
redis.call('HSET', KEYS[1], 'owner', ARGV[3])
local event = append(KEYS[1], KEYS[2], ARGV[6], ARGV[1], ARGV[2], 'PENDING', tonumber(ARGV[7]), 0)
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'owner', ARGV[3], 'url', ARGV[4], 'language', ARGV[5], 'attempts', 0)
redis.call('HSET', KEYS[3], 'enqueued', now_ms())
redis.call('LREM', KEYS[4], 0, ARGV[2])
redis.call('LPUSH', KEYS[4], ARGV[2])
return event

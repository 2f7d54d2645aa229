-- An operator queues a dead letter again. Postgres has already moved the task back to PENDING
-- (it arbitrates: of two requeues, or a requeue and anything else, one wins) and raised its
-- ceiling by one for this event. The task leaves the dead-letter list, gets a fresh job (attempts
-- 0: a new attempt budget) and its PENDING notice is numbered after the log's last event, so the
-- old log stays readable; when Redis has expired the task, its log restarts at `seq` (the
-- ceiling Postgres gave), above every seq handed out before.
-- KEYS: task, log, job, queue, dead. ARGV: body, task_id, owner, url, language, channel, ttl, seq
-- Returns the logged event.
redis.call('LREM', KEYS[5], 0, ARGV[2])
local current = redis.call('HGET', KEYS[1], 'seq')
local fields = {'owner', ARGV[3]}
if not current then
  current = tonumber(ARGV[8]) - 1
  redis.call('DEL', KEYS[2])
  fields = {'owner', ARGV[3], 'base', current}
end
-- Fresh: the finished task's shorter TTL gives way to a live one.
local event = append(KEYS[1], KEYS[2], ARGV[6], ARGV[1], ARGV[2], 'PENDING', tonumber(ARGV[7]), 0, current, true,
  fields)
redis.call('DEL', KEYS[3])
new_job(KEYS[3], ARGV[3], ARGV[4], ARGV[5], {})
redis.call('LREM', KEYS[4], 0, ARGV[2])
redis.call('LPUSH', KEYS[4], ARGV[2])
return event

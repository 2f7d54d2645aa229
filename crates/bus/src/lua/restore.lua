-- Re-create a job that Redis lost (restart without persistence, flush) from the durable row,
-- continuing the task's seq where Postgres last saw it.
-- KEYS: task, log, job, queue. ARGV: body, task_id, owner, url, language, channel, ttl, last_seq
if redis.call('EXISTS', KEYS[3]) == 1 then
  return nil
end
local state = redis.call('HGET', KEYS[1], 'state')
if is_terminal(state) then
  return nil
end
redis.call('HSETNX', KEYS[1], 'owner', ARGV[3])
if redis.call('HSETNX', KEYS[1], 'seq', ARGV[8]) == 1 then
  redis.call('HSET', KEYS[1], 'base', ARGV[8])
end
local event = append(KEYS[1], KEYS[2], ARGV[6], ARGV[1], ARGV[2], 'PENDING', tonumber(ARGV[7]))
redis.call('HSET', KEYS[3], 'owner', ARGV[3], 'url', ARGV[4], 'language', ARGV[5], 'attempts', 0)
redis.call('LPUSH', KEYS[4], ARGV[2])
return event

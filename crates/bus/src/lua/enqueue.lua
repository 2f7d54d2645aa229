-- KEYS: task, log, job, queue. ARGV: body, task_id, owner, url, language, channel, ttl, prefix
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('task exists')
end
redis.call('HSET', KEYS[1], 'owner', ARGV[3], 'seq', 0)
local event = append(KEYS[1], KEYS[2], ARGV[6], ARGV[1], ARGV[2], 'PENDING', tonumber(ARGV[7]))
redis.call('HSET', KEYS[3], 'owner', ARGV[3], 'url', ARGV[4], 'language', ARGV[5], 'attempts', 0)
redis.call('HSET', KEYS[3], 'enqueued', now_ms())
redis.call('LPUSH', KEYS[4], ARGV[2])
return event

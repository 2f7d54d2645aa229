-- KEYS: task, log, job, queue. ARGV: body, task_id, owner, url, language, channel, ttl, prefix,
-- traceparent, request_id (the submitting request's; '' when unknown)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('task exists')
end
redis.call('HSET', KEYS[1], 'owner', ARGV[3], 'seq', 0)
local event = append(KEYS[1], KEYS[2], ARGV[6], ARGV[1], ARGV[2], 'PENDING', tonumber(ARGV[7]))
redis.call('HSET', KEYS[3], 'owner', ARGV[3], 'url', ARGV[4], 'language', ARGV[5], 'attempts', 0)
redis.call('HSET', KEYS[3], 'enqueued', now_ms())
-- The request the job came from, for the worker's trace and log lines.
if ARGV[9] ~= '' then redis.call('HSET', KEYS[3], 'traceparent', ARGV[9]) end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[3], 'request_id', ARGV[10]) end
redis.call('LPUSH', KEYS[4], ARGV[2])
return event

-- KEYS: task, log, job, queue. ARGV: body, task_id, owner, url, language, channel, ttl, prefix,
-- traceparent, request_id (the submitting request's; '' when unknown), first_token,
-- first_ceiling (the first claim Postgres recorded with the task, take.lua; '' when none)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('task exists')
end
local event = append(KEYS[1], KEYS[2], ARGV[6], ARGV[1], ARGV[2], 'PENDING', tonumber(ARGV[7]), 0, 0, true,
  {'owner', ARGV[3]})
-- The request the job came from, for the worker's trace and log lines.
new_job(KEYS[3], ARGV[3], ARGV[4], ARGV[5], {'traceparent', ARGV[9], 'request_id', ARGV[10],
  'first_token', ARGV[11], 'first_ceiling', ARGV[12]})
redis.call('LPUSH', KEYS[4], ARGV[2])
return event

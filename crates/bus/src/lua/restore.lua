-- Re-create a job that Redis lost (restart without persistence, flush) from the durable row.
-- Postgres has already re-queued the task and chosen `seq`, one above every seq Redis may have
-- handed out before (its ceiling): the restored PENDING event takes exactly that seq, so no
-- client ever sees a number twice. Whatever is left of the old log is dropped: replays start at
-- the restored event.
-- KEYS: task, log, job, queue. ARGV: body, task_id, owner, url, language, channel, ttl, seq,
-- traceparent, request_id ('' when unknown)
if redis.call('EXISTS', KEYS[3]) == 1 then
  return nil
end
local state = redis.call('HGET', KEYS[1], 'state')
if is_terminal(state) then
  return nil
end
local base = tonumber(ARGV[8]) - 1
redis.call('DEL', KEYS[2])
local event = append(KEYS[1], KEYS[2], ARGV[6], ARGV[1], ARGV[2], 'PENDING', tonumber(ARGV[7]), 0, base, true,
  {'owner', ARGV[3], 'base', base})
-- The request the job came from, for the worker's trace and log lines.
new_job(KEYS[3], ARGV[3], ARGV[4], ARGV[5], {'traceparent', ARGV[9], 'request_id', ARGV[10]})
redis.call('LPUSH', KEYS[4], ARGV[2])
return event

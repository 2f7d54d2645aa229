-- The user cancelled: log the FAILURE event, drop a queued or delayed job, and tell workers.
-- KEYS: task, log, job, queue, delayed. ARGV: body, task_id, channel, cancel_channel, ttl
-- Returns the event, or nil when the task already finished (or Redis does not know it).
local task = redis.call('HMGET', KEYS[1], 'state', 'seq')
if not task[1] or is_terminal(task[1]) then
  return nil
end
local event = append(KEYS[1], KEYS[2], ARGV[3], ARGV[1], ARGV[2], 'FAILURE', tonumber(ARGV[5]), 0, task[2])
redis.call('LREM', KEYS[4], 0, ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[4], ARGV[2])
return event

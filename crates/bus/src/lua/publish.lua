-- A progress event from the worker holding the claim.
-- KEYS: job, task, log. ARGV: token, body, task_id, state, channel, ttl, seq (0: the next)
-- Returns the event, or 'cancelled' / 'lost' (the claim moved on: write nothing).
local task = redis.call('HMGET', KEYS[2], 'state', 'seq')
if is_terminal(task[1]) then
  return 'cancelled'
end
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 'lost'
end
return append(KEYS[2], KEYS[3], ARGV[5], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6]), ARGV[7], task[2])

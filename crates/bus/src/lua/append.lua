-- Shared by every script that logs an event: assigns the next seq, appends the event to the
-- task's log, stores it as the snapshot and publishes it, atomically. `body` is a serialized
-- TaskUpdate without seq, so it starts with `{"type":`; the seq goes in front.
local function append(task_key, log_key, channel, body, task_id, state, ttl)
  local seq = redis.call('HINCRBY', task_key, 'seq', 1)
  local event = '{"seq":' .. seq .. ',' .. string.sub(body, 2)
  redis.call('RPUSH', log_key, event)
  redis.call('HSET', task_key, 'snap', event, 'state', state)
  redis.call('EXPIRE', task_key, ttl)
  redis.call('EXPIRE', log_key, ttl)
  redis.call('PUBLISH', channel, task_id .. ' ' .. seq .. ' ' .. event)
  return event
end

local function is_terminal(state)
  return state == 'SUCCESS' or state == 'FAILURE'
end

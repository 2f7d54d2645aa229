-- Shared by every script that logs an event: numbers it, appends it to the task's log, stores
-- it as the snapshot and publishes it, atomically. `body` is a serialized TaskUpdate without
-- seq, so it starts with `{"type":`; the seq goes in front.
-- `given` is the seq Postgres recorded the event with (0 when only Redis logs it): the event
-- takes it. Above the log's end (Redis lost events), the log restarts there, so its entries
-- stay contiguous from `base` + 1; below it, the next seq is taken and the caller, told by the
-- returned event, records that one in Postgres.
local function append(task_key, log_key, channel, body, task_id, state, ttl, given)
  local seq = redis.call('HINCRBY', task_key, 'seq', 1)
  given = tonumber(given) or 0
  if given > seq then
    redis.call('DEL', log_key)
    redis.call('HSET', task_key, 'seq', given, 'base', given - 1)
    seq = given
  end
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

-- Redis' clock in ms since the epoch, as a string (no float formatting on the way).
local function now_ms()
  local time = redis.call('TIME')
  return time[1] .. string.format('%03d', math.floor(tonumber(time[2]) / 1000))
end

-- Shared by every script that logs an event.

local function is_terminal(state)
  return state == 'SUCCESS' or state == 'FAILURE'
end

-- Numbers the event, appends it to the task's log, stores it as the snapshot and publishes it,
-- atomically. `body` is a serialized TaskUpdate without seq, so it starts with `{"type":`; the
-- seq goes in front.
-- `current` is the task's seq before this event, which the caller reads with the fields it
-- checks (false when the task's hash is gone). `given` is the seq Postgres recorded the event
-- with (0 when only Redis logs it): the event takes it. Above the log's end (Redis lost events),
-- the log restarts there, so its entries stay contiguous from `base` + 1; below it, the next seq
-- is taken and the caller, told by the returned event, records that one in Postgres. `fields`
-- are more task fields for the same HSET (name, value, ...).
-- The TTL is set only where it changes: on keys made here (`fresh`, a hash that was gone, a log
-- that restarts) and on the terminal event, which shortens it. A running task's keys are not
-- touched per event: the claim renews them (take.lua), so they outlive every attempt.
local function append(task_key, log_key, channel, body, task_id, state, ttl, given, current, fresh, fields)
  local seq = (tonumber(current) or 0) + 1
  given = tonumber(given) or 0
  local hash = {'seq', seq, 'snap', '', 'state', state}
  if given > seq then
    redis.call('DEL', log_key)
    seq = given
    hash[2] = seq
    hash[#hash + 1] = 'base'
    hash[#hash + 1] = given - 1
    fresh = true
  end
  local event = '{"seq":' .. seq .. ',' .. string.sub(body, 2)
  hash[4] = event
  for _, value in ipairs(fields or {}) do
    hash[#hash + 1] = value
  end
  redis.call('RPUSH', log_key, event)
  redis.call('HSET', task_key, unpack(hash))
  if fresh or not current or is_terminal(state) then
    redis.call('EXPIRE', task_key, ttl)
    redis.call('EXPIRE', log_key, ttl)
  end
  redis.call('PUBLISH', channel, task_id .. ' ' .. seq .. ' ' .. event)
  return event
end

-- Redis' clock in ms since the epoch, as a string (no float formatting on the way).
local function now_ms()
  local time = redis.call('TIME')
  return time[1] .. string.format('%03d', math.floor(tonumber(time[2]) / 1000))
end

-- A new job hash in one HSET: what the worker runs, attempts 0, queued now. `extra` holds
-- optional fields as name, value pairs; an empty value is left out.
local function new_job(job_key, owner, url, language, extra)
  local job = {'owner', owner, 'url', url, 'language', language, 'attempts', 0, 'enqueued', now_ms()}
  for i = 1, #extra, 2 do
    if extra[i + 1] ~= '' then
      job[#job + 1] = extra[i]
      job[#job + 1] = extra[i + 1]
    end
  end
  redis.call('HSET', job_key, unpack(job))
end

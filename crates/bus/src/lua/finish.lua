-- The terminal event of the claim holder; the job is done (acked, or dead-lettered).
-- KEYS: job, task, log, leases, processing, dead. ARGV: token, body, task_id, state, channel, ttl, dead
local state = redis.call('HGET', KEYS[2], 'state')
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  if is_terminal(state) then
    -- Cancelled meanwhile: the claim is void; just let go of the job.
    redis.call('LREM', KEYS[5], 1, ARGV[3])
    redis.call('ZREM', KEYS[4], ARGV[3])
    return 'cancelled'
  end
  return 'lost'
end
local event = 'already'
if not is_terminal(state) then
  event = append(KEYS[2], KEYS[3], ARGV[5], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6]))
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[4], ARGV[3])
redis.call('LREM', KEYS[5], 1, ARGV[3])
if ARGV[7] == '1' then
  redis.call('RPUSH', KEYS[6], ARGV[3])
end
return event

-- The terminal event Postgres has accepted; the job is done (acked, or dead-lettered).
-- Postgres arbitrates the outcome (cancel against finish, claim fencing), so the event is logged
-- whatever this worker's Redis claim says: a lease that expired a moment ago, or a job Redis lost
-- with its data, must not keep the outcome from open sockets. It takes `seq`, the seq Postgres
-- recorded; if Redis lost the task altogether, the task is re-created around it.
-- Only the claim holder removes the job itself; a re-claimed job finds the task finished.
-- KEYS: job, task, log, leases, processing, dead.
-- ARGV: token, body, task_id, state, channel, ttl, dead, seq, owner
-- Returns the event as logged, or 'already' when the task had its terminal event.
local task = redis.call('HMGET', KEYS[2], 'state', 'seq', 'owner')
local event = 'already'
if not is_terminal(task[1]) then
  local fields = {}
  if not task[3] then
    fields = {'owner', ARGV[9]}
  end
  event = append(KEYS[2], KEYS[3], ARGV[5], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6]), ARGV[8], task[2], false,
    fields)
end
redis.call('LREM', KEYS[5], 1, ARGV[3])
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[4], ARGV[3])
  if ARGV[7] == '1' then
    redis.call('RPUSH', KEYS[6], ARGV[3])
  end
end
return event

-- Renew this worker's liveness and the leases it still holds.
-- KEYS: workers, leases. ARGV: prefix, worker, now_ms, lease_until_ms, then pairs task_id, token
-- Returns the task ids whose claim was lost (reaped or cancelled): the worker abandons them.
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
local lost = {}
for i = 5, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', ARGV[1] .. ':job:' .. id, 'token') == token then
    redis.call('ZADD', KEYS[2], 'XX', ARGV[4], id)
  else
    table.insert(lost, id)
  end
end
return lost

-- A worker moved task_id into its processing list with BLMOVE; now it takes the lease.
-- KEYS: job, leases, task. ARGV: task_id, token, worker, lease_until_ms
-- Returns nil when the job is gone (cancelled), else {owner, url, language, attempts, run, seq, state}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return nil
end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'worker', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
local job = redis.call('HMGET', KEYS[1], 'owner', 'url', 'language', 'run')
local task = redis.call('HMGET', KEYS[3], 'seq', 'state')
return {job[1], job[2], job[3], attempts, job[4] or '', task[1] or '0', task[2] or ''}

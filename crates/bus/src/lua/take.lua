-- Shared by the claim scripts: take the lease on a job whose id is already in this worker's
-- processing list. Returns {id} when the job is gone (cancelled while queued: the caller drops
-- the id), else {id, owner, url, language, attempts, run, seq, state, enqueued, traceparent,
-- request_id}; the last three are '' for a job queued by a release that did not record them.
local function take(prefix, leases_key, id, token, worker, lease_until)
  local job_key = prefix .. ':job:' .. id
  if redis.call('EXISTS', job_key) == 0 then
    return {id}
  end
  local attempts = redis.call('HINCRBY', job_key, 'attempts', 1)
  redis.call('HSET', job_key, 'token', token, 'worker', worker)
  redis.call('ZADD', leases_key, lease_until, id)
  local job = redis.call('HMGET', job_key, 'owner', 'url', 'language', 'run', 'enqueued', 'traceparent',
    'request_id')
  local task = redis.call('HMGET', prefix .. ':task:' .. id, 'seq', 'state')
  return {id, job[1], job[2], job[3], tostring(attempts), job[4] or '', task[1] or '0', task[2] or '',
    job[5] or '', job[6] or '', job[7] or ''}
end

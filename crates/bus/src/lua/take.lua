-- Shared by the claim scripts: take the lease on a job whose id is already in this worker's
-- processing list. `token` is the worker's new claim token; the job's first claim takes the one
-- Postgres recorded with the task instead (`first_token`, used once), so Postgres need not
-- record that claim again. Returns {id} when the job is gone (cancelled while queued: the caller
-- drops the id), else {id, owner, url, language, attempts, run, seq, state, enqueued,
-- traceparent, request_id, token, ceiling, first}: `token` is the claim's, `ceiling` the seq
-- ceiling Postgres recorded with it ('' when Postgres has yet to record this claim); enqueued,
-- traceparent and request_id are '' for a job queued by a release that did not record them.
-- The task's keys are renewed to `live_ttl` when less than half of it is left, so they outlive
-- the attempt (append.lua sets no TTL on a running task's events).
-- `seq` and `state` are the task's as the claim found them, before `first`.
-- `first` is the attempt's first event when this script logged it: given `first_head` and
-- `first_tail` (the event's draft on either side of its task id; '' for none), a recorded first
-- claim of a task that is not over, with room below its ceiling, logs it here as publish.lua
-- would, so the worker need not send it. Otherwise `first` is '' and the worker sends it.
local function take(prefix, leases_key, id, token, worker, lease_until, live_ttl, channel, first_head, first_tail)
  local job_key = prefix .. ':job:' .. id
  local job = redis.call('HMGET', job_key, 'owner', 'url', 'language', 'run', 'enqueued', 'traceparent',
    'request_id', 'attempts', 'first_token', 'first_ceiling')
  if not job[1] then
    return {id}
  end
  local attempts = (tonumber(job[8]) or 0) + 1
  local ceiling = ''
  if job[9] and job[9] ~= '' then
    token, ceiling = job[9], job[10] or ''
    redis.call('HSET', job_key, 'attempts', attempts, 'token', token, 'worker', worker, 'first_token', '')
  else
    redis.call('HSET', job_key, 'attempts', attempts, 'token', token, 'worker', worker)
  end
  redis.call('ZADD', leases_key, lease_until, id)
  local task_key = prefix .. ':task:' .. id
  local task = redis.call('HMGET', task_key, 'seq', 'state')
  if not is_terminal(task[2]) and redis.call('TTL', task_key) < live_ttl / 2 then
    redis.call('EXPIRE', task_key, live_ttl)
    redis.call('EXPIRE', prefix .. ':log:' .. id, live_ttl)
  end
  local first = ''
  if first_head ~= '' and tonumber(ceiling) and not is_terminal(task[2])
    and (tonumber(task[1]) or 0) < tonumber(ceiling) then
    first = append(task_key, prefix .. ':log:' .. id, channel, first_head .. id .. first_tail, id, 'PROGRESS',
      live_ttl, 0, task[1], false)
  end
  return {id, job[1], job[2], job[3], tostring(attempts), job[4] or '', task[1] or '0', task[2] or '',
    job[5] or '', job[6] or '', job[7] or '', token, ceiling, first}
end

//! The worker's side of the queue: claim, heartbeat, publish, finish, retry, hand back.

use std::sync::LazyLock;
use std::time::Duration;

use protocol::{Event, Language, TaskId, TaskState, TaskUpdate, TikTokUrl, UserId};
use redis::{AsyncCommands, Script};
use uuid::Uuid;

use crate::{Bus, BusError, Job, LIVE_TTL, decode, now_ms, origin_from};

static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/append.lua"),
        include_str!("lua/take.lua"),
        include_str!("lua/claim.lua")
    ))
});
static CLAIM_NEXT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/append.lua"),
        include_str!("lua/take.lua"),
        include_str!("lua/claim_next.lua")
    ))
});
static PUBLISH: LazyLock<Script> = script!("lua/publish.lua");
static FINISH: LazyLock<Script> = script!("lua/finish.lua");
static RETRY: LazyLock<Script> = script!("lua/retry.lua");
static HAND_BACK: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/hand_back.lua")));
static DROP: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/drop.lua")));
static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/heartbeat.lua")));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/release.lua")));
static MAINTAIN: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/maintain.lua")));

/// A job this worker holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// What to run, as the submission queued it.
    pub job: Job,
    /// The claim token; every write checks it.
    pub token: Uuid,
    /// This claim's attempt number (1 for the first).
    pub attempt: u32,
    /// The Apify run a previous attempt started, if any.
    pub run_id: Option<String>,
    /// The task's latest seq when claimed.
    pub seq: u64,
    /// The task's state when claimed.
    pub state: Option<TaskState>,
    /// Set when Postgres recorded this claim with the task at admission (the job's first claim
    /// takes the token Postgres holds): the seq ceiling it reserved for the attempt. `None` when
    /// Postgres has yet to record the claim.
    pub recorded_ceiling: Option<u64>,
    /// The attempt's first event, when the claim logged it itself ([`Bus::claim_starting`]);
    /// `seq` and `state` are the task's from before it.
    pub first_event: Option<Event>,
}

/// The result of a write by a claim holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Logged and published.
    Logged(Event),
    /// The task already had its terminal event (a re-run of a finished job); nothing logged.
    AlreadyFinished,
    /// The owner cancelled the task: stop and write nothing more.
    Cancelled,
    /// The lease was lost to the reaper (another worker may own the job now): stop.
    Lost,
}

impl WriteOutcome {
    fn parse(reply: String) -> Result<Self, BusError> {
        Ok(match reply.as_str() {
            "cancelled" => Self::Cancelled,
            "lost" => Self::Lost,
            "already" => Self::AlreadyFinished,
            _ => Self::Logged(decode(reply)?),
        })
    }
}

/// What one maintenance pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Jobs whose lease expired, re-queued.
    pub expired: u64,
    /// Jobs of workers that stopped heart-beating, re-queued.
    pub orphaned: u64,
    /// Delayed retries that became due, queued.
    pub promoted: u64,
}

/// `first`'s draft, stamped now, on either side of its task id: the claim script puts the
/// claimed job's id between the two. Two empty strings for none.
fn first_draft(first: Option<&TaskUpdate>) -> (String, String) {
    let Some(first) = first else { return (String::new(), String::new()) };
    let draft = TaskUpdate { timestamp: protocol::message::now_seconds(), ..first.clone() }.draft_json();
    let id = first.task_id.to_string();
    match draft.split_once(&id) {
        Some((head, tail)) => (head.to_owned(), tail.to_owned()),
        None => (String::new(), String::new()),
    }
}

impl Bus {
    fn processing(&self, worker: &str) -> String {
        self.key(&["processing", worker])
    }

    /// Waits up to `block` for a job and takes a lease of `lease` on it.
    ///
    /// While jobs are waiting this is one round trip (a script moves the next id to this
    /// worker's processing list and takes the lease); only on an empty queue does it block in
    /// `BLMOVE` on a connection of its own and then take the lease (two round trips).
    ///
    /// # Errors
    /// [`BusError`] on Redis failure or an unreadable job.
    pub async fn claim(
        &self,
        worker: &str,
        block: Duration,
        lease: Duration,
    ) -> Result<Option<Claim>, BusError> {
        self.claim_starting(worker, block, lease, None).await
    }

    /// Like [`Bus::claim`], and a job's first claim, recorded in Postgres at admission, also logs
    /// `first` (its task id taken as the claimed job's) in the same script, as
    /// [`Bus::publish`] would: one round trip fewer per job. The claim carries the event in
    /// [`Claim::first_event`]; when it does not (a later claim, a task that is over, no room
    /// below the ceiling), nothing was logged and the caller publishes `first` itself.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure or an unreadable job.
    pub async fn claim_starting(
        &self,
        worker: &str,
        block: Duration,
        lease: Duration,
        first: Option<&TaskUpdate>,
    ) -> Result<Option<Claim>, BusError> {
        let token = Uuid::new_v4();
        let (head, tail) = first_draft(first);
        let mut conn = self.conn().await?;
        let next: Option<Vec<String>> = CLAIM_NEXT
            .key(self.key(&["queue"]))
            .key(self.processing(worker))
            .key(self.key(&["leases"]))
            .arg(self.prefix())
            .arg(token.to_string())
            .arg(worker)
            .arg(now_ms() + lease.as_millis() as u64)
            .arg(LIVE_TTL.as_secs())
            .arg(self.events_channel())
            .arg(&head)
            .arg(&tail)
            .invoke_async(&mut conn)
            .await?;
        if let Some(fields) = next {
            return self.claimed(worker, fields).await;
        }
        let mut blocking = self.blocking_conn().await?;
        let moved: Option<String> = redis::cmd("BLMOVE")
            .arg(self.key(&["queue"]))
            .arg(self.processing(worker))
            .arg("RIGHT")
            .arg("LEFT")
            .arg(block.as_secs_f64())
            .query_async(&mut *blocking)
            .await?;
        drop(blocking);
        let Some(id) = moved else { return Ok(None) };
        // Stamped anew: the job may have come in at the end of the wait.
        let (head, tail) = first_draft(first);
        let fields: Vec<String> = CLAIM
            .key(self.key(&["leases"]))
            .arg(self.prefix())
            .arg(&id)
            .arg(token.to_string())
            .arg(worker)
            .arg(now_ms() + lease.as_millis() as u64)
            .arg(LIVE_TTL.as_secs())
            .arg(self.events_channel())
            .arg(&head)
            .arg(&tail)
            .invoke_async(&mut conn)
            .await?;
        self.claimed(worker, fields).await
    }

    /// Builds the claim from `{id, owner, url, language, attempts, run, seq, state, enqueued,
    /// traceparent, request_id, token, ceiling, first}` (take.lua); a lone `{id}` is a job cancelled
    /// while queued: nothing to run, the id is let go.
    async fn claimed(&self, worker: &str, fields: Vec<String>) -> Result<Option<Claim>, BusError> {
        let [
            id,
            owner,
            url,
            language,
            attempt,
            run,
            seq,
            state,
            enqueued,
            traceparent,
            request_id,
            token,
            ceiling,
            first,
        ] = match <[String; 14]>::try_from(fields) {
            Ok(fields) => fields,
            Err(fields) => {
                let [id] = fields.as_slice() else {
                    return Err(BusError::Corrupt(format!("unexpected claim reply {fields:?}")));
                };
                self.drop_task(worker, id).await?;
                return Ok(None);
            }
        };
        let corrupt = |what: &str, e: String| BusError::Corrupt(format!("job {id}: {what}: {e}"));
        let job = Job {
            task_id: TaskId::parse(&id).map_err(|e| corrupt("id", e.to_string()))?,
            owner: UserId::parse(&owner).map_err(|e| corrupt("owner", e.to_string()))?,
            url: TikTokUrl::parse(&url).map_err(|e| corrupt("url", e.to_string()))?,
            language: Language::parse(&language).map_err(|e| corrupt("language", e.to_string()))?,
            // Empty for a job queued by an older release.
            enqueued_ms: enqueued.parse().ok(),
            origin: origin_from(&traceparent, &request_id),
        };
        Ok(Some(Claim {
            job,
            token: Uuid::parse_str(&token).map_err(|e| corrupt("token", e.to_string()))?,
            attempt: attempt.parse().map_err(|_| corrupt("attempts", attempt.clone()))?,
            run_id: (!run.is_empty()).then_some(run),
            seq: seq.parse().map_err(|_| corrupt("seq", seq.clone()))?,
            state: TaskState::parse(&state),
            recorded_ceiling: if ceiling.is_empty() {
                None
            } else {
                Some(ceiling.parse().map_err(|_| corrupt("ceiling", ceiling.clone()))?)
            },
            first_event: if first.is_empty() { None } else { Some(decode(first)?) },
        }))
    }

    /// Removes a task id this worker holds that has no job any more.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn drop_task(&self, worker: &str, id: &str) -> Result<(), BusError> {
        let mut conn = self.conn().await?;
        DROP.key(self.key(&["leases"]))
            .key(self.processing(worker))
            .arg(id)
            .invoke_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    /// Logs a progress event if `claim` still holds the job, with `update.seq` when it is set
    /// (the seq Postgres recorded it with), else the next one.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn publish(&self, claim: &Claim, update: &TaskUpdate) -> Result<WriteOutcome, BusError> {
        let id = claim.job.task_id.to_string();
        let mut conn = self.conn().await?;
        let reply: String = PUBLISH
            .key(self.key(&["job", &id]))
            .key(self.key(&["task", &id]))
            .key(self.key(&["log", &id]))
            .arg(claim.token.to_string())
            .arg(update.draft_json())
            .arg(&id)
            .arg(update.status.as_str())
            .arg(self.events_channel())
            .arg(self.ttl_for(update))
            .arg(update.seq)
            .invoke_async(&mut conn)
            .await?;
        WriteOutcome::parse(reply)
    }

    /// Logs the terminal event Postgres accepted and lets go of the job (to the dead-letter
    /// list when `dead`). Postgres fences the outcome, so the event is logged even when this
    /// claim's Redis lease has lapsed. It takes `update.seq`, the seq Postgres recorded (a task
    /// Redis lost is re-created around it). Returns the event ([`WriteOutcome::Logged`]; should
    /// Redis be past that seq, it took the next one, which the caller records) or
    /// [`WriteOutcome::AlreadyFinished`].
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn finish(
        &self,
        worker: &str,
        claim: &Claim,
        update: &TaskUpdate,
        dead: bool,
    ) -> Result<WriteOutcome, BusError> {
        let flag = if dead { "1" } else { "0" };
        let extra = [flag.to_owned(), update.seq.to_string(), claim.job.owner.to_string()];
        self.settle(&FINISH, worker, claim, update, "dead", &extra).await
    }

    /// Logs `update` (a retry notice) and parks the job until `delay` has passed.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn retry_later(
        &self,
        worker: &str,
        claim: &Claim,
        update: &TaskUpdate,
        delay: Duration,
    ) -> Result<WriteOutcome, BusError> {
        let ready_at = now_ms() + delay.as_millis() as u64;
        self.settle(&RETRY, worker, claim, update, "delayed", &[ready_at.to_string()]).await
    }

    /// Runs a script that logs `update` and lets go of the claim. Both take the same keys and
    /// arguments, and differ in where the job goes: `target` (the dead-letter list or the
    /// delayed set), told by `extra` (the dead flag, `min_seq` and owner, or the due time).
    async fn settle(
        &self,
        script: &Script,
        worker: &str,
        claim: &Claim,
        update: &TaskUpdate,
        target: &str,
        extra: &[String],
    ) -> Result<WriteOutcome, BusError> {
        let id = claim.job.task_id.to_string();
        let mut conn = self.conn().await?;
        let reply: String = script
            .key(self.key(&["job", &id]))
            .key(self.key(&["task", &id]))
            .key(self.key(&["log", &id]))
            .key(self.key(&["leases"]))
            .key(self.processing(worker))
            .key(self.key(&[target]))
            .arg(claim.token.to_string())
            .arg(update.draft_json())
            .arg(&id)
            .arg(update.status.as_str())
            .arg(self.events_channel())
            .arg(self.ttl_for(update))
            .arg(extra)
            .invoke_async(&mut conn)
            .await?;
        WriteOutcome::parse(reply)
    }

    /// Returns an unfinished job to the front of the queue without counting the attempt
    /// (graceful shutdown). Returns whether the claim was still held.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn hand_back(&self, worker: &str, claim: &Claim) -> Result<bool, BusError> {
        let id = claim.job.task_id.to_string();
        let mut conn = self.conn().await?;
        let held: i64 = HAND_BACK
            .key(self.key(&["job", &id]))
            .key(self.key(&["leases"]))
            .key(self.processing(worker))
            .key(self.key(&["queue"]))
            .arg(claim.token.to_string())
            .arg(&id)
            .invoke_async(&mut conn)
            .await?;
        Ok(held == 1)
    }

    /// Renews the worker's liveness and the leases of `claims`; returns the task ids whose claim
    /// was lost, which the worker must abandon.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn heartbeat(
        &self,
        worker: &str,
        claims: &[(TaskId, Uuid)],
        lease: Duration,
    ) -> Result<Vec<TaskId>, BusError> {
        let now = now_ms();
        let mut invocation = HEARTBEAT.key(self.key(&["workers"]));
        invocation
            .key(self.key(&["leases"]))
            .arg(self.prefix())
            .arg(worker)
            .arg(now)
            .arg(now + lease.as_millis() as u64);
        for (task, token) in claims {
            invocation.arg(task.to_string()).arg(token.to_string());
        }
        let mut conn = self.conn().await?;
        let lost: Vec<String> = invocation.invoke_async(&mut conn).await?;
        Ok(lost.iter().filter_map(|id| TaskId::parse(id).ok()).collect())
    }

    /// A worker leaving: returns every task id still in its processing list to the front of the
    /// queue and removes the worker from the live set. Returns how many went back.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn release(&self, worker: &str) -> Result<u64, BusError> {
        let mut conn = self.conn().await?;
        Ok(RELEASE
            .key(self.processing(worker))
            .key(self.key(&["leases"]))
            .key(self.key(&["queue"]))
            .key(self.key(&["workers"]))
            .arg(self.prefix())
            .arg(worker)
            .invoke_async(&mut conn)
            .await?)
    }

    /// Re-queues jobs of expired leases and dead workers, and due retries. Any worker may run it.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn maintain(&self, worker_timeout: Duration) -> Result<Maintenance, BusError> {
        let mut conn = self.conn().await?;
        let (expired, orphaned, promoted): (u64, u64, u64) = MAINTAIN
            .key(self.key(&["leases"]))
            .key(self.key(&["workers"]))
            .key(self.key(&["delayed"]))
            .key(self.key(&["queue"]))
            .arg(self.prefix())
            .arg(now_ms())
            .arg(worker_timeout.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(Maintenance { expired, orphaned, promoted })
    }

    /// Remembers the Apify run of a task so a retry re-attaches to it.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn set_run(&self, task: TaskId, run_id: &str) -> Result<(), BusError> {
        let mut conn = self.conn().await?;
        conn.hset::<_, _, _, ()>(self.key(&["job", &task.to_string()]), "run", run_id).await?;
        Ok(())
    }

    /// The Apify run remembered for a task.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn run(&self, task: TaskId) -> Result<Option<String>, BusError> {
        let mut conn = self.conn().await?;
        Ok(conn.hget(self.key(&["job", &task.to_string()]), "run").await?)
    }

    /// Remembers the task's second Apify run, the one that downloads the video (the media pass
    /// of the cascade), beside the first so a retry re-attaches to each.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn set_media_run(&self, task: TaskId, run_id: &str) -> Result<(), BusError> {
        let mut conn = self.conn().await?;
        conn.hset::<_, _, _, ()>(self.key(&["job", &task.to_string()]), "media_run", run_id).await?;
        Ok(())
    }

    /// The video-downloading Apify run remembered for a task.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn media_run(&self, task: TaskId) -> Result<Option<String>, BusError> {
        let mut conn = self.conn().await?;
        Ok(conn.hget(self.key(&["job", &task.to_string()]), "media_run").await?)
    }

    /// Stores what the media pass read from a video (opaque bytes), for `ttl`.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn set_media_cache(&self, video_id: &str, value: &[u8], ttl: Duration) -> Result<(), BusError> {
        let mut conn = self.conn().await?;
        let secs = ttl.as_secs().max(1);
        conn.set_ex::<_, _, ()>(self.key(&["media", video_id]), value, secs).await?;
        Ok(())
    }

    /// What the media pass read from a video earlier, if it is still cached.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn media_cache(&self, video_id: &str) -> Result<Option<Vec<u8>>, BusError> {
        let mut conn = self.conn().await?;
        Ok(conn.get(self.key(&["media", video_id])).await?)
    }

    /// Whether Redis still has the job of this task (queued, delayed or running).
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn has_job(&self, task: TaskId) -> Result<bool, BusError> {
        let mut conn = self.conn().await?;
        Ok(conn.exists(self.key(&["job", &task.to_string()])).await?)
    }

    /// Task ids this worker still holds in its processing list.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn held(&self, worker: &str) -> Result<Vec<String>, BusError> {
        let mut conn = self.conn().await?;
        Ok(conn.lrange(self.processing(worker), 0, -1).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_replies_are_read_once() {
        assert_eq!(WriteOutcome::parse("lost".into()).unwrap(), WriteOutcome::Lost);
        assert_eq!(WriteOutcome::parse("cancelled".into()).unwrap(), WriteOutcome::Cancelled);
        assert_eq!(WriteOutcome::parse("already".into()).unwrap(), WriteOutcome::AlreadyFinished);
        let WriteOutcome::Logged(event) =
            WriteOutcome::parse(r#"{"seq":42,"type":"progress","status":"PROGRESS"}"#.into()).unwrap()
        else {
            panic!("an event")
        };
        assert_eq!((event.seq, event.state), (42, TaskState::Progress));
        assert!(WriteOutcome::parse("{}".into()).is_err(), "a reply that is no event is corrupt data");
    }
}

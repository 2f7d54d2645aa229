-- A task's seq never goes backwards, whatever Redis loses (docs/protocol.md, "Sequence numbers").
--
-- Redis numbers the events; Postgres is written only at submit, claim, finish and cancel. So that
-- a job re-created after Redis lost its data continues above every seq a client may have seen,
-- each of those statements moves `seq_ceiling`, an upper bound of the seqs Redis may hand out
-- until the next one: a claim reserves a block for its attempt, a cancel one seq. `last_seq` and
-- `snapshot` are the latest event Postgres knows exactly (the claim's first event, the terminal
-- one), so the snapshot served while Redis is away has one state per ETag.
ALTER TABLE tasks ADD COLUMN seq_ceiling bigint NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN snapshot text;
UPDATE tasks SET seq_ceiling = last_seq;

-- Admission in one statement and one round trip: the in-flight limit and the insert happen
-- under a per-owner lock, so parallel submissions cannot all pass a count taken before any of
-- them inserted. A VOLATILE function's statements each take a new snapshot, so the count after
-- the lock sees every task committed before it. Outcomes: 'created' (the new task), 'running'
-- (the owner's unfinished task for this video and language, which the caller joins), 'limit'
-- (p_max unfinished tasks already; `unfinished` says how many).
CREATE FUNCTION admit_task(p_id uuid, p_owner uuid, p_url text, p_video_key text, p_video_id text,
                           p_language text, p_max integer, p_message text)
RETURNS TABLE (outcome text, task_id uuid, unfinished bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n bigint;
    found uuid;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_owner::text, 20261201));
    SELECT count(*) INTO n FROM tasks WHERE owner = p_owner AND status IN ('PENDING', 'PROGRESS');
    IF n >= p_max THEN
        RETURN QUERY SELECT 'limit'::text, NULL::uuid, n;
        RETURN;
    END IF;
    INSERT INTO tasks (id, owner, url, video_key, video_id, language, message)
    VALUES (p_id, p_owner, p_url, p_video_key, p_video_id, p_language, p_message)
    ON CONFLICT (owner, video_key, language) WHERE status IN ('PENDING', 'PROGRESS') DO NOTHING
    RETURNING id INTO found;
    IF found IS NOT NULL THEN
        RETURN QUERY SELECT 'created'::text, found, n + 1;
        RETURN;
    END IF;
    SELECT id INTO found FROM tasks
     WHERE owner = p_owner AND video_key = p_video_key AND language = p_language
       AND status IN ('PENDING', 'PROGRESS');
    RETURN QUERY SELECT 'running'::text, found, n;
END
$$;

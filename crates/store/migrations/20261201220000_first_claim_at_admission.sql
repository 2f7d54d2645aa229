-- Admission records the task's first claim (issue 15: one commit fewer per task). The api picks
-- the token of the job's first claim and the seq block of that attempt (`seq_ceiling`, the block
-- above its first event, seq 2) and they are written with the row, durably, in the admission's
-- one commit; the claim script hands that token to the first worker that takes the job. So the
-- first attempt needs no Postgres write of its own before it runs: the token fences it as a
-- recorded claim does (a later claim records a new one and voids it; a cancel or a restore
-- clears it), and the ceiling bounds its seqs as a claim's does. Its row stays PENDING until its
-- outcome is written; that statement counts the attempt. So the row also keeps the PENDING event
-- as the enqueue logs it (seq 1) as its snapshot: while Redis is away during that attempt,
-- Postgres serves the very event seq 1 stands for, not one rebuilt from the columns.
--
-- A new function beside the old one (an overload: more arguments), not a replacement: processes
-- of the previous release call admit_task with eight arguments while the new ones migrate
-- (docs/operations.md, "Schema changes").
CREATE FUNCTION admit_task(p_id uuid, p_owner uuid, p_url text, p_video_key text, p_video_id text,
                           p_language text, p_max integer, p_message text, p_claim_token uuid,
                           p_seq_ceiling bigint, p_snapshot text)
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
    INSERT INTO tasks (id, owner, url, video_key, video_id, language, message, claim_token, seq_ceiling,
                       snapshot)
    VALUES (p_id, p_owner, p_url, p_video_key, p_video_id, p_language, p_message, p_claim_token,
            p_seq_ceiling, p_snapshot)
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

-- Admissions in batches (issue 15: one commit and one statement for many submissions). The api
-- sends the submissions that arrive while its previous batch is in Postgres as one call; each is
-- admitted as admit_task admits one (the in-flight limit, the owner's running task for the same
-- video and language, the first claim and the snapshot recorded with the row).
--
-- An owner appears at most once per batch (the api keeps an owner's second submission for the
-- next batch; a batch that breaks this is refused), so the batch's rows cannot collide with
-- each other and each owner's count is read once. The owners' locks come first, in the order of
-- their keys, so batches of several gateways cannot deadlock with each other (admit_task takes
-- one lock); the statement after them takes its snapshot once they are held, so it counts every
-- task committed for those owners. Outcomes per submission (`id`, the task id it asked for) as
-- admit_task's: 'created', 'running' with the task to join (NULL when that task finished in
-- between: the caller asks again), 'limit' with the unfinished count.
CREATE FUNCTION admit_tasks(p_ids uuid[], p_owners uuid[], p_urls text[], p_video_keys text[],
                            p_video_ids text[], p_languages text[], p_max integer[],
                            p_messages text[], p_claim_tokens uuid[], p_seq_ceiling bigint,
                            p_snapshots text[])
RETURNS TABLE (request uuid, outcome text, task_id uuid, unfinished bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    lock_key bigint;
BEGIN
    IF (SELECT count(DISTINCT o) FROM unnest(p_owners) AS o) <> cardinality(p_owners) THEN
        RAISE EXCEPTION 'admit_tasks: an owner appears more than once in a batch';
    END IF;
    FOR lock_key IN SELECT k FROM unnest(p_owners) AS o, hashtextextended(o::text, 20261201) AS k ORDER BY k
    LOOP
        PERFORM pg_advisory_xact_lock(lock_key);
    END LOOP;
    RETURN QUERY
    WITH input AS (
        SELECT i.id, i.owner, i.url, i.video_key, i.video_id, i.language, i.max_in_flight, i.message,
               i.claim_token, i.snapshot,
               (SELECT count(*) FROM tasks t
                 WHERE t.owner = i.owner AND t.status IN ('PENDING', 'PROGRESS')) AS n
          FROM unnest(p_ids, p_owners, p_urls, p_video_keys, p_video_ids, p_languages, p_max,
                      p_messages, p_claim_tokens, p_snapshots)
               AS i(id, owner, url, video_key, video_id, language, max_in_flight, message,
                    claim_token, snapshot)
    ), inserted AS (
        INSERT INTO tasks (id, owner, url, video_key, video_id, language, message, claim_token,
                           seq_ceiling, snapshot)
        SELECT i.id, i.owner, i.url, i.video_key, i.video_id, i.language, i.message, i.claim_token,
               p_seq_ceiling, i.snapshot
          FROM input i WHERE i.n < i.max_in_flight
        ON CONFLICT (owner, video_key, language) WHERE status IN ('PENDING', 'PROGRESS') DO NOTHING
        RETURNING tasks.id
    )
    SELECT i.id,
           CASE WHEN i.n >= i.max_in_flight THEN 'limit'
                WHEN ins.id IS NOT NULL THEN 'created'
                ELSE 'running' END,
           CASE WHEN i.n >= i.max_in_flight THEN NULL
                WHEN ins.id IS NOT NULL THEN ins.id
                ELSE (SELECT t.id FROM tasks t
                       WHERE t.owner = i.owner AND t.video_key = i.video_key
                         AND t.language = i.language AND t.status IN ('PENDING', 'PROGRESS')) END,
           CASE WHEN ins.id IS NOT NULL THEN i.n + 1 ELSE i.n END
      FROM input i LEFT JOIN inserted ins ON ins.id = i.id;
END
$$;

-- Durable state: every task ever submitted and every recipe saved.
-- Redis holds the live queue and event log; this is what survives Redis expiry or loss.

CREATE TABLE tasks (
    id           uuid PRIMARY KEY,
    owner        uuid NOT NULL,
    url          text NOT NULL,
    -- The video id when the link has one, else the canonical link: what "the same video" means
    -- for de-duplication and the recipe cache.
    video_key    text NOT NULL,
    video_id     text,
    language     text NOT NULL,
    status       text NOT NULL DEFAULT 'PENDING'
                 CHECK (status IN ('PENDING', 'PROGRESS', 'SUCCESS', 'FAILURE')),
    step         integer NOT NULL DEFAULT 0,
    message      text,
    error        text,
    recipe_id    uuid,
    recipe_name  text,
    attempts     integer NOT NULL DEFAULT 0,
    -- The token of the worker claim allowed to finish this task (fencing against lost leases).
    claim_token  uuid,
    last_seq     bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);

-- At most one unfinished task per user, video and language: a second submission joins it.
CREATE UNIQUE INDEX tasks_one_unfinished
    ON tasks (owner, video_key, language) WHERE status IN ('PENDING', 'PROGRESS');
CREATE INDEX tasks_unfinished_by_age ON tasks (updated_at) WHERE status IN ('PENDING', 'PROGRESS');

CREATE TABLE recipes (
    id          uuid PRIMARY KEY,
    owner       uuid NOT NULL,
    -- One recipe per task, however often a job is retried or re-run.
    task_id     uuid NOT NULL UNIQUE REFERENCES tasks (id),
    video_key   text NOT NULL,
    language    text NOT NULL,
    title       text NOT NULL,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Ids are UUIDv7, so id order is creation order: the list is paginated by id.
CREATE INDEX recipes_by_owner ON recipes (owner, id DESC);
CREATE INDEX recipes_cache ON recipes (video_key, language, created_at DESC);

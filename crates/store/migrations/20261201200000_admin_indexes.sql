-- The admin console's reads (docs/operations.md, "Admin console"): recent tasks newest first,
-- and the per-minute throughput of the last hour by finish time.
CREATE INDEX IF NOT EXISTS tasks_by_created ON tasks (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS tasks_by_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;

-- A task's status gets a type of its own, `task_status`: the four state words of the protocol
-- (which the store decodes as `store::TaskStatus`), a rule the type holds wherever the column
-- is written instead of a CHECK on this one column.
--
-- A domain over text, not an enum: new processes migrate while old ones still run
-- (docs/operations.md, "Schema changes"), and those read `status` as text. Postgres describes a
-- domain column by its base type, so to them nothing changed; an enum column would fail every
-- read of theirs. The partial indexes and admit_task() compare status with text literals, which
-- works unchanged on a domain over text, so they stay as they are.
CREATE DOMAIN task_status AS text
    CHECK (VALUE IN ('PENDING', 'PROGRESS', 'SUCCESS', 'FAILURE'));

ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ALTER COLUMN status TYPE task_status;

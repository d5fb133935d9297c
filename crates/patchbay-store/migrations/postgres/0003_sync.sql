-- Sync engine: a durable job queue, sync runs and their cursors, and the record store.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    workspace_id TEXT,
    connection_id TEXT,
    -- At most one pending or running job per unique key (e.g. one sync per connection).
    unique_key TEXT,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_active_unique ON jobs (unique_key) WHERE status IN ('pending', 'running');
CREATE INDEX jobs_ready ON jobs (status, run_at);

CREATE TABLE sync_runs (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    job_id TEXT,
    mode TEXT NOT NULL,
    entities TEXT NOT NULL,
    status TEXT NOT NULL,
    added BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    pages BIGINT NOT NULL,
    error TEXT,
    cancel_requested BOOLEAN NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX sync_runs_connection ON sync_runs (connection_id, id);

-- Where a connection's entity stands: the committed checkpoint for incremental runs, and the
-- page cursor of the run in progress (so a restarted worker resumes from the last page).
CREATE TABLE sync_cursors (
    connection_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    checkpoint TEXT,
    run_id TEXT,
    page_cursor TEXT,
    run_checkpoint TEXT,
    run_done BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, entity)
);

CREATE TABLE records (
    connection_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    data TEXT NOT NULL,
    hash TEXT NOT NULL,
    deleted BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, entity, id)
);
CREATE INDEX records_changes ON records (connection_id, entity, updated_at, id);

-- Ids seen by a full run, one row per page (a JSON array), for deletion detection when the run
-- succeeds. A row per page instead of per id keeps an unchanged resync nearly write-free.
CREATE TABLE sync_seen (
    run_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    ids TEXT NOT NULL
);
CREATE INDEX sync_seen_run ON sync_seen (run_id, entity);

ALTER TABLE connections ADD COLUMN sync_frequency TEXT NOT NULL DEFAULT 'manual';
ALTER TABLE connections ADD COLUMN next_sync_at BIGINT;
ALTER TABLE connections ADD COLUMN sync_failures BIGINT NOT NULL DEFAULT 0;

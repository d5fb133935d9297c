-- Dashboard widgets: a data endpoint of a connection shown on a workspace's dashboard, with
-- the last data it answered so that a failing endpoint still shows something, marked stale.
CREATE TABLE widgets (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    endpoint TEXT NOT NULL,
    title TEXT,
    refresh_seconds INTEGER NOT NULL,
    position INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- The last data the endpoint answered (JSON) and when it was fetched; NULL until then.
    last_data TEXT,
    last_fetched_at BIGINT
);
CREATE INDEX widgets_workspace ON widgets (workspace_id, position, id);
CREATE INDEX widgets_connection ON widgets (connection_id);

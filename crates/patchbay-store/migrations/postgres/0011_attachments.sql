-- Files received with webhooks (a chat message's photo, voice note or document), served by
-- the API and referenced by id from the records that carry them.
CREATE TABLE attachments (
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    filename TEXT,
    size BIGINT NOT NULL,
    data BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, id)
);

-- Inbound webhooks: the raw event as received, durable before the provider gets its 2xx, then
-- processed by workers. (connection, delivery id) is unique: a redelivery is recognised.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    connector TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BYTEA NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    error TEXT,
    lease_expires_at BIGINT,
    received_at BIGINT NOT NULL,
    processed_at BIGINT,
    UNIQUE (connection_id, delivery_id)
);
CREATE INDEX webhook_events_pending ON webhook_events (status, received_at);


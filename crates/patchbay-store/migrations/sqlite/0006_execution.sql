-- Execution surfaces: payload-routed webhooks find connections by provider account; action
-- results are kept by idempotency key; organisations register the repositories they work in.
CREATE INDEX connections_route ON connections (connector, account_id);

CREATE TABLE action_runs (
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    action TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    -- running, completed or failed
    status TEXT NOT NULL,
    -- the JSON result, or the error a failed run answered with
    result TEXT,
    created_at BIGINT NOT NULL,
    completed_at BIGINT,
    PRIMARY KEY (connection_id, idempotency_key)
);

CREATE TABLE org_repositories (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    full_name TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    default_branch TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, provider, full_name)
);

-- Deliveries wait for the earlier pending ones of their connection: this finds those without
-- scanning the subscription's delivered history.
CREATE INDEX deliveries_pending_order ON deliveries (subscription_id, COALESCE(connection_id, ''), event_id)
    WHERE status = 'pending';
-- Claims walk pending deliveries in event order and stop at the batch size.
CREATE INDEX deliveries_pending_events ON deliveries (event_id) WHERE status = 'pending';
-- Claims walk deliveries_pending_events; keeping this one up to date cost every attempt.
DROP INDEX deliveries_due;

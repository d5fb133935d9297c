-- Channel bindings: a scope key (a chat, a channel or thread, an issue, a web session) bound to
-- an application-defined target, with the queue mode messages on it are delivered in.
CREATE TABLE bindings (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    scope_key TEXT NOT NULL,
    channel_type TEXT NOT NULL,
    channel_id TEXT,
    thread TEXT,
    -- The connection replies go through (Telegram, Slack, GitHub); NULL for web and api.
    connection_id TEXT REFERENCES connections(id) ON DELETE SET NULL,
    target TEXT NOT NULL,
    queue_mode TEXT NOT NULL,
    collect_debounce_ms BIGINT NOT NULL,
    collect_max_wait_ms BIGINT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX bindings_scope ON bindings (workspace_id, scope_key);
CREATE INDEX bindings_target ON bindings (workspace_id, target);

-- Where a workspace's unbound messages go.
CREATE TABLE routing_defaults (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    target TEXT NOT NULL,
    queue_mode TEXT NOT NULL,
    collect_debounce_ms BIGINT NOT NULL,
    collect_max_wait_ms BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per scope key that has seen a message: its sequence number (order per scope key) and
-- the open collect window, if any. Routing a message locks this row, so messages of one scope
-- key are numbered and emitted in one order even across processes.
CREATE TABLE routing_scopes (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    scope_key TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    window_first_at BIGINT,
    window_due_at BIGINT,
    PRIMARY KEY (workspace_id, scope_key)
);
CREATE INDEX routing_scopes_due ON routing_scopes (window_due_at);

-- Messages waiting in an open collect window; emitted together and removed in one transaction.
CREATE TABLE routing_pending (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    scope_key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    target TEXT NOT NULL,
    binding_id TEXT,
    connection_id TEXT,
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, scope_key, seq)
);

-- Messages already routed, by the id their channel gave them, so a redelivered update or a
-- retried prompt is routed once.
CREATE TABLE routing_seen (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    message_key TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, message_key)
);
CREATE INDEX routing_seen_age ON routing_seen (created_at);

-- Foundation: workspaces, keys, vault keys, connections, credentials, principals, grants,
-- activity and the event outbox. Times are milliseconds since the Unix epoch.
CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);

CREATE TABLE vault_keys (
    id INTEGER PRIMARY KEY,
    wrapped BLOB NOT NULL,
    active BOOLEAN NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connector TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    owner_scope TEXT NOT NULL,
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    lifecycle TEXT NOT NULL,
    health TEXT NOT NULL,
    health_reason TEXT,
    last_sync_at INTEGER,
    last_tested_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX connections_account ON connections (workspace_id, owner_id, connector, account_id)
    WHERE lifecycle <> 'revoked';
CREATE INDEX connections_workspace ON connections (workspace_id, id);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    owner_type TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    field TEXT NOT NULL,
    key_id INTEGER NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (owner_type, owner_id, field)
);
CREATE INDEX credentials_key ON credentials (key_id);

CREATE TABLE principals (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    connection_id TEXT NOT NULL UNIQUE REFERENCES connections(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    key_id TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    action_keys TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER,
    last_used_at INTEGER
);

CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    principal_id TEXT NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL,
    permission TEXT NOT NULL,
    resource TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX grants_principal ON grants (principal_id);

CREATE TABLE activity (
    id TEXT PRIMARY KEY,
    workspace_id TEXT,
    connection_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX activity_workspace ON activity (workspace_id, id);
CREATE INDEX activity_connection ON activity (connection_id, id);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    type TEXT NOT NULL,
    connection_id TEXT,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX events_workspace ON events (workspace_id, id);

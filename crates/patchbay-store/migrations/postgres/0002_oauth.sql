-- OAuth: apps per workspace and provider, connect sessions, single-use states, and token
-- bookkeeping on connections. Secrets (client secrets, PKCE verifiers, tokens) live sealed in
-- credentials.
CREATE TABLE oauth_apps (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, provider)
);

CREATE TABLE connect_sessions (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    connector TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    owner_scope TEXT NOT NULL,
    return_url TEXT NOT NULL,
    scopes TEXT NOT NULL,
    config TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE oauth_states (
    id TEXT PRIMARY KEY,
    state_hash TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL REFERENCES connect_sessions(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    created_at BIGINT NOT NULL
);

ALTER TABLE connections ADD COLUMN token_expires_at BIGINT;
ALTER TABLE connections ADD COLUMN granted_scopes TEXT;
ALTER TABLE connections ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';

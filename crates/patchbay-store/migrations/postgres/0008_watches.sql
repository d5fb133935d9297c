-- Push subscriptions held at providers (Gmail users.watch, Calendar channels): renewed before
-- they lapse, stopped when their connection goes.
CREATE TABLE watches (
    connection_id TEXT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    -- The connector's state of the subscription (JSON); NULL until it is first set up.
    state TEXT,
    expires_at BIGINT,
    renew_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    lease_expires_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX watches_due ON watches (renew_at);

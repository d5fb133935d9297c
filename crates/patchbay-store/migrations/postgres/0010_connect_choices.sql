-- Connect sessions that offer several connectors, OAuth or not, and are used once: the allowed
-- list (a JSON array; NULL on older sessions, which allow only `connector`), when the session
-- was used, and on each OAuth state the connector the user chose.
ALTER TABLE connect_sessions ADD COLUMN allowed_connectors TEXT;
ALTER TABLE connect_sessions ADD COLUMN consumed_at BIGINT;
ALTER TABLE oauth_states ADD COLUMN connector TEXT;

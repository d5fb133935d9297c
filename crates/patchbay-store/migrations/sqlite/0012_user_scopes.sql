-- Scopes a connect session asks for on the user's behalf besides the app's own (Slack's
-- `user_scope`), a JSON array; NULL: the provider's default user scopes.
ALTER TABLE connect_sessions ADD COLUMN user_scopes TEXT;

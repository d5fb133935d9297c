-- Custom OpenAI-compatible LLM providers, kept by operators for every workspace. The API key
-- and the extra headers' values are sealed credentials (owner_type 'llm_provider'); only the
-- header names are stored here, so the list can show what is set without opening the vault.
CREATE TABLE llm_providers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    base_url TEXT NOT NULL,
    models TEXT NOT NULL,
    discovered_models TEXT NOT NULL,
    extra_header_names TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    tested_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

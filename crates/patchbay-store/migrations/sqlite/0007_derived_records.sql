-- Which source records (messages) each derived record (a person) has counted, so a source
-- is counted once however often it is synced.
CREATE TABLE context_sources (
    connection_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    PRIMARY KEY (connection_id, entity, id, source_id)
);

-- What a connector said about a run (an expired cursor it recovered from), one note a line.
ALTER TABLE sync_runs ADD COLUMN notes TEXT;

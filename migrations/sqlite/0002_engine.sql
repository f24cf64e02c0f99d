-- outdial store, SQLite flavour: what the live engine shares between nodes. Timestamps are
-- INTEGER epoch milliseconds UTC.

-- Every supervisor change, one row per field: when, which token (by name), old -> new as text.
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    token    TEXT    NOT NULL,
    campaign TEXT    NOT NULL,
    field    TEXT    NOT NULL,
    old      TEXT    NOT NULL,
    new      TEXT    NOT NULL
);
CREATE INDEX audit_campaign ON audit (campaign, id);

-- Supervisor pacing settings per campaign, so a change made on one node reaches every node on the
-- same database. NULL = the campaign definition's value.
CREATE TABLE pacing_overrides (
    campaign_id    INTEGER PRIMARY KEY REFERENCES campaigns (id),
    mode           TEXT,
    ratio          REAL,
    max_ratio      REAL,
    target_abandon REAL,
    paused         INTEGER NOT NULL DEFAULT 0,
    updated_ms     INTEGER NOT NULL
);

-- Which node owns each agent, until when (renewed by the owner; free again once expired).
CREATE TABLE agent_claims (
    agent    TEXT    PRIMARY KEY,
    node     TEXT    NOT NULL,
    until_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX agent_claims_node ON agent_claims (node);

-- Staffed intervals of agents on campaigns (occupancy in `outdial report`). end_ms is NULL while
-- the session is open; busy_ms is talk + wrap-up time accumulated in it.
CREATE TABLE agent_sessions (
    id          INTEGER PRIMARY KEY,
    agent       TEXT    NOT NULL,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    node        TEXT    NOT NULL,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER,
    busy_ms     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX agent_sessions_campaign ON agent_sessions (campaign_id, start_ms);
CREATE INDEX agent_sessions_open ON agent_sessions (node) WHERE end_ms IS NULL;

-- The agent's wrap-up code and when wrap-up ended (busy time ends there).
ALTER TABLE attempts ADD COLUMN agent_disposition TEXT;
ALTER TABLE attempts ADD COLUMN wrapup_end_ms INTEGER;

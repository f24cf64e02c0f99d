-- outdial store, PostgreSQL flavour: what the live engine shares between nodes. Timestamps are
-- BIGINT epoch milliseconds UTC.

-- Every supervisor change, one row per field: when, which token (by name), old -> new as text.
CREATE TABLE audit (
    id       BIGSERIAL PRIMARY KEY,
    at_ms    BIGINT  NOT NULL,
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
    campaign_id    BIGINT  PRIMARY KEY REFERENCES campaigns (id),
    mode           TEXT,
    ratio          DOUBLE PRECISION,
    max_ratio      DOUBLE PRECISION,
    target_abandon DOUBLE PRECISION,
    paused         BIGINT  NOT NULL DEFAULT 0,
    updated_ms     BIGINT  NOT NULL
);

-- Which node owns each agent, until when (renewed by the owner; free again once expired).
CREATE TABLE agent_claims (
    agent    TEXT    PRIMARY KEY,
    node     TEXT    NOT NULL,
    until_ms BIGINT  NOT NULL
);
CREATE INDEX agent_claims_node ON agent_claims (node);

-- Staffed intervals of agents on campaigns (occupancy in `outdial report`). end_ms is NULL while
-- the session is open; busy_ms is talk + wrap-up time accumulated in it.
CREATE TABLE agent_sessions (
    id          BIGSERIAL PRIMARY KEY,
    agent       TEXT    NOT NULL,
    campaign_id BIGINT  NOT NULL REFERENCES campaigns (id),
    node        TEXT    NOT NULL,
    start_ms    BIGINT  NOT NULL,
    end_ms      BIGINT,
    busy_ms     BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX agent_sessions_campaign ON agent_sessions (campaign_id, start_ms);
CREATE INDEX agent_sessions_open ON agent_sessions (node) WHERE end_ms IS NULL;

-- The agent's wrap-up code and when wrap-up ended (busy time ends there).
ALTER TABLE attempts ADD COLUMN agent_disposition TEXT;
ALTER TABLE attempts ADD COLUMN wrapup_end_ms BIGINT;

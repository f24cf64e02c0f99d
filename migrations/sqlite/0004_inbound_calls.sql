-- Inbound calls (INVITEs from a trunk) answered by the engine and queued for blended agents: one
-- record per call, written when it ends. `caller` holds only the From user part's digits and `+`.
-- connect_ms is NULL when the caller hung up before an agent took the call.
CREATE TABLE inbound_calls (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    node        TEXT    NOT NULL,
    caller      TEXT    NOT NULL,
    agent       TEXT,
    arrive_ms   INTEGER NOT NULL,
    connect_ms  INTEGER,
    end_ms      INTEGER NOT NULL
);
CREATE INDEX inbound_calls_campaign ON inbound_calls (campaign_id, arrive_ms);

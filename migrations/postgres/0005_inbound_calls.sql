-- Inbound calls (INVITEs from a trunk) answered by the engine and queued for blended agents: one
-- record per call, written when it ends. `caller` holds only the From user part's digits and `+`.
-- connect_ms is NULL when the caller hung up before an agent took the call.
CREATE TABLE inbound_calls (
    id          BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT  NOT NULL REFERENCES campaigns (id),
    node        TEXT    NOT NULL,
    caller      TEXT    NOT NULL,
    agent       TEXT,
    arrive_ms   BIGINT  NOT NULL,
    connect_ms  BIGINT,
    end_ms      BIGINT  NOT NULL
);
CREATE INDEX inbound_calls_campaign ON inbound_calls (campaign_id, arrive_ms);

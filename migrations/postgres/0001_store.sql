-- outdial store, PostgreSQL flavour. Timestamps are BIGINT  epoch milliseconds UTC.

-- Campaign definitions: the validated YAML as JSON, with a content hash for no-op applies.
CREATE TABLE campaigns (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    definition   TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    priority     BIGINT  NOT NULL,
    created_ms   BIGINT  NOT NULL,
    updated_ms   BIGINT  NOT NULL
);

-- Distinct callee time zones per campaign: the lease computes in Rust which are open now.
CREATE TABLE campaign_timezones (
    campaign_id BIGINT  NOT NULL REFERENCES campaigns (id),
    timezone    TEXT    NOT NULL,
    PRIMARY KEY (campaign_id, timezone)
);

-- Leads (the queue). state: new | scheduled | leased | dialing | done.
-- sla_ms is the first-attempt deadline, or i64::MAX when the lead has none (keeps the index order
-- identical on both databases without NULLS LAST).
CREATE TABLE leads (
    id               BIGSERIAL PRIMARY KEY,
    campaign_id      BIGINT  NOT NULL REFERENCES campaigns (id),
    phone            TEXT    NOT NULL,
    name             TEXT,
    external_id      TEXT,
    timezone         TEXT    NOT NULL,
    priority         BIGINT  NOT NULL DEFAULT 0,
    tier             TEXT    COLLATE "C" NOT NULL DEFAULT '',
    attributes       TEXT    NOT NULL DEFAULT '{}',
    state            TEXT    NOT NULL DEFAULT 'new',
    due_ms           BIGINT  NOT NULL,
    sla_ms           BIGINT  NOT NULL,
    created_ms       BIGINT  NOT NULL,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    day_key          BIGINT  NOT NULL DEFAULT 0,
    day_attempts     BIGINT  NOT NULL DEFAULT 0,
    lease_node       TEXT,
    lease_until_ms   BIGINT,
    last_disposition TEXT,
    last_attempt_ms  BIGINT,
    UNIQUE (campaign_id, phone)
);

-- The hopper order: SLA deadline, priority (high first), tier, due time; time zone last so the
-- window filter is answered from the index.
CREATE INDEX leads_pool ON leads (campaign_id, sla_ms, priority DESC, tier, due_ms, timezone)
    WHERE state IN ('new', 'scheduled');
CREATE INDEX leads_leased ON leads (campaign_id, lease_until_ms) WHERE state = 'leased';

-- Numbers currently leased or being dialled, across campaigns: one number, one call at a time.
CREATE TABLE inflight (
    phone    TEXT    PRIMARY KEY,
    lead_id  BIGINT  NOT NULL,
    until_ms BIGINT  NOT NULL
);

-- Call-detail records. is_open = 1 from begin_attempt (before the INVITE leaves) to finish_attempt.
CREATE TABLE attempts (
    id          BIGSERIAL PRIMARY KEY,
    lead_id     BIGINT  NOT NULL REFERENCES leads (id),
    campaign_id BIGINT  NOT NULL REFERENCES campaigns (id),
    phone       TEXT    NOT NULL,
    node        TEXT    NOT NULL,
    is_open     BIGINT  NOT NULL,
    disposition TEXT,
    sip_code    BIGINT,
    trunk       TEXT,
    agent       TEXT,
    dial_ms     BIGINT  NOT NULL,
    ring_ms     BIGINT,
    answer_ms   BIGINT,
    connect_ms  BIGINT,
    end_ms      BIGINT,
    wait_ms     BIGINT,
    live        BIGINT  NOT NULL DEFAULT 0,
    connected   BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX attempts_phone ON attempts (phone, dial_ms);
CREATE INDEX attempts_campaign ON attempts (campaign_id, dial_ms);
CREATE INDEX attempts_lead ON attempts (lead_id);
CREATE INDEX attempts_open ON attempts (node) WHERE is_open = 1;

-- Do-not-call list, by E.164 number, for every campaign.
CREATE TABLE dnc (
    phone    TEXT    PRIMARY KEY,
    added_ms BIGINT  NOT NULL,
    source   TEXT
);

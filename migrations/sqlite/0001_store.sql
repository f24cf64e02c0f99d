-- outdial store, SQLite flavour. Timestamps are INTEGER epoch milliseconds UTC.

-- Campaign definitions: the validated YAML as JSON, with a content hash for no-op applies.
CREATE TABLE campaigns (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    definition   TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    priority     INTEGER NOT NULL,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);

-- Distinct callee time zones per campaign: the lease computes in Rust which are open now.
CREATE TABLE campaign_timezones (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    timezone    TEXT    NOT NULL,
    PRIMARY KEY (campaign_id, timezone)
) WITHOUT ROWID;

-- Leads (the queue). state: new | scheduled | leased | dialing | done.
-- sla_ms is the first-attempt deadline, or i64::MAX when the lead has none (keeps the index order
-- identical on both databases without NULLS LAST).
CREATE TABLE leads (
    id               INTEGER PRIMARY KEY,
    campaign_id      INTEGER NOT NULL REFERENCES campaigns (id),
    phone            TEXT    NOT NULL,
    name             TEXT,
    external_id      TEXT,
    timezone         TEXT    NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    tier             TEXT    NOT NULL DEFAULT '',
    attributes       TEXT    NOT NULL DEFAULT '{}',
    state            TEXT    NOT NULL DEFAULT 'new',
    due_ms           INTEGER NOT NULL,
    sla_ms           INTEGER NOT NULL,
    created_ms       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    day_key          INTEGER NOT NULL DEFAULT 0,
    day_attempts     INTEGER NOT NULL DEFAULT 0,
    lease_node       TEXT,
    lease_until_ms   INTEGER,
    last_disposition TEXT,
    last_attempt_ms  INTEGER,
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
    lead_id  INTEGER NOT NULL,
    until_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Call-detail records. is_open = 1 from begin_attempt (before the INVITE leaves) to finish_attempt.
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    lead_id     INTEGER NOT NULL REFERENCES leads (id),
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    phone       TEXT    NOT NULL,
    node        TEXT    NOT NULL,
    is_open     INTEGER NOT NULL,
    disposition TEXT,
    sip_code    INTEGER,
    trunk       TEXT,
    agent       TEXT,
    dial_ms     INTEGER NOT NULL,
    ring_ms     INTEGER,
    answer_ms   INTEGER,
    connect_ms  INTEGER,
    end_ms      INTEGER,
    wait_ms     INTEGER,
    live        INTEGER NOT NULL DEFAULT 0,
    connected   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attempts_phone ON attempts (phone, dial_ms);
CREATE INDEX attempts_campaign ON attempts (campaign_id, dial_ms);
CREATE INDEX attempts_lead ON attempts (lead_id);
CREATE INDEX attempts_open ON attempts (node) WHERE is_open = 1;

-- Do-not-call list, by E.164 number, for every campaign.
CREATE TABLE dnc (
    phone    TEXT    PRIMARY KEY,
    added_ms INTEGER NOT NULL,
    source   TEXT
) WITHOUT ROWID;

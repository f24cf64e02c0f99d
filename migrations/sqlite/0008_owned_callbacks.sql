-- Owned callbacks and the agent desktop (issue 19): a callback an agent scheduled at wrap-up is
-- that agent's (owner_agent) until owner_until_ms (its time plus the campaign's
-- callbacks.owner_grace); until then only a lease for that agent takes it, afterwards any agent's
-- does. Cleared when the lead is next dialled. The agent's wrap-up note goes with its code on the
-- call record.
ALTER TABLE leads ADD COLUMN owner_agent TEXT;
ALTER TABLE leads ADD COLUMN owner_until_ms INTEGER;
ALTER TABLE attempts ADD COLUMN agent_note TEXT;
CREATE INDEX leads_owned ON leads (campaign_id, owner_agent, due_ms) WHERE owner_agent IS NOT NULL;
-- Call-record search by agent (the campaign and number searches have their indexes).
CREATE INDEX attempts_agent ON attempts (agent, dial_ms) WHERE agent IS NOT NULL;

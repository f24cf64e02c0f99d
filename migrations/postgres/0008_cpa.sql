-- Call-progress analysis in the call record (issue 18): the verdict (human, machine,
-- announcement, sit, fax, silence, unsure), its detail (which announcement or SIT, the
-- greeting's length), the analysis delay in ms (answer to verdict as the engine saw it; early
-- media: from its start) and what the campaign's policy did (connect, hangup, message, cancel).
-- All NULL for calls without analysis (flow I, cpa off, not answered).
ALTER TABLE attempts ADD COLUMN cpa_verdict TEXT;
ALTER TABLE attempts ADD COLUMN cpa_detail TEXT;
ALTER TABLE attempts ADD COLUMN cpa_delay_ms BIGINT;
ALTER TABLE attempts ADD COLUMN cpa_action TEXT;

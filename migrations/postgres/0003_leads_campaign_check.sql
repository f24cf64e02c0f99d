-- Drop the foreign key from leads to campaigns. On a COPY it is a per-row trigger with its own
-- query, about 10 µs a row: two thirds of a 1,000,000-row list load (BENCHMARKS.md, "Store").
-- Leads are only ever inserted by a list load, which resolves the campaign in its transaction and
-- holds a KEY SHARE lock on its row until commit (src/store/load.rs), and campaigns are never
-- deleted; so every lead still names an existing campaign.
ALTER TABLE leads DROP CONSTRAINT IF EXISTS leads_campaign_id_fkey;

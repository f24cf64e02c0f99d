-- Call-record search by date alone, and the records page with no filter (newest first, a page
-- at a time): without an index on the dial time alone both read and sort every attempt (1.3 s
-- for the newest page of 1,000,000 records on SQLite). The other searches have their own
-- indexes (campaign, agent, number, number ending), each with the dial time second.
CREATE INDEX attempts_dial ON attempts (dial_ms, id);

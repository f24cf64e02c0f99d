-- The media plane's part of the call record (issue 17): the call's recording (path while the
-- file is kept: `outdial recordings purge` clears it and keeps the record; seconds of audio;
-- why it failed, NULL when it did not), the customer leg's media figures (RTP packets
-- received, loss %, interarrival jitter in ms, E-model MOS estimate), and whether the customer
-- pressed the opt-out key during the safe-harbour message (the number then went on the
-- do-not-call list in the same transaction). All NULL (opted_out 0) for calls without media.
ALTER TABLE attempts ADD COLUMN recording_path TEXT;
ALTER TABLE attempts ADD COLUMN recording_secs DOUBLE PRECISION;
ALTER TABLE attempts ADD COLUMN recording_failed TEXT;
ALTER TABLE attempts ADD COLUMN media_packets BIGINT;
ALTER TABLE attempts ADD COLUMN media_loss_pct DOUBLE PRECISION;
ALTER TABLE attempts ADD COLUMN media_jitter_ms DOUBLE PRECISION;
ALTER TABLE attempts ADD COLUMN media_mos DOUBLE PRECISION;
ALTER TABLE attempts ADD COLUMN opted_out BIGINT NOT NULL DEFAULT 0;
-- `outdial recordings list|purge` read the calls that still have a file, by time.
CREATE INDEX attempts_recording ON attempts (dial_ms) WHERE recording_path IS NOT NULL;

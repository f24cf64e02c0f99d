-- Call-record search by the last digits of a number (a contact centre's usual search, over
-- 30+ days of records): `phone LIKE '%1234'` can use no index, so each attempt also keeps its
-- number's digits reversed, and the search is a range on that prefix ('4321' <= phone_rev <
-- '4321:'), which an index serves. Filled here for the records written before.
ALTER TABLE attempts ADD COLUMN phone_rev TEXT;
-- SQLite has no reverse(): E.164 numbers are at most 16 characters ('+' and 15 digits).
UPDATE attempts SET phone_rev = replace(substr(phone, 16, 1) || substr(phone, 15, 1) || substr(phone, 14, 1) || substr(phone, 13, 1) || substr(phone, 12, 1) || substr(phone, 11, 1) || substr(phone, 10, 1) || substr(phone, 9, 1) || substr(phone, 8, 1) || substr(phone, 7, 1) || substr(phone, 6, 1) || substr(phone, 5, 1) || substr(phone, 4, 1) || substr(phone, 3, 1) || substr(phone, 2, 1) || substr(phone, 1, 1), '+', '');
CREATE INDEX attempts_phone_rev ON attempts (phone_rev, dial_ms);

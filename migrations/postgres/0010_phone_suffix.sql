-- Call-record search by the last digits of a number (a contact centre's usual search, over
-- 30+ days of records): `phone LIKE '%1234'` can use no index, so each attempt also keeps its
-- number's digits reversed, and the search is a range on that prefix ('4321' <= phone_rev <
-- '4321:'), which an index serves. Byte order (COLLATE "C"), so the range is the prefix
-- whatever the database's locale. Filled here for the records written before.
ALTER TABLE attempts ADD COLUMN phone_rev TEXT COLLATE "C";
UPDATE attempts SET phone_rev = reverse(replace(phone, '+', ''));
CREATE INDEX attempts_phone_rev ON attempts (phone_rev, dial_ms);

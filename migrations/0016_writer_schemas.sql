-- Each stored event's Avro datum names the writer schema it was written with (its CRC-64-AVRO
-- fingerprint as written after C3 01), so an upgrade that adds fields still reads what earlier
-- versions stored: the hub resolves it from that schema (schemas/history/) to the current one.
-- Every event stored before this migration was written with 6e82a96800714ab3 (or with the
-- schema before it, which differs only by a union branch added at the end, and reads the same).
ALTER TABLE events ADD COLUMN schema_fingerprint bytea NOT NULL DEFAULT '\x6e82a96800714ab3';
ALTER TABLE events ALTER COLUMN schema_fingerprint DROP DEFAULT;

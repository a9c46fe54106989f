-- A hostile payload should cost the hub one write, not three.
--
-- A refusal of a whole payload (item position 0) no longer copies the payload into refusals.raw:
-- the bytes are already in raw_archive, and the refusal points at that row. Item refusals (one
-- row of a file) keep their own bytes, which are small. The raw payloads are compressed with lz4
-- (much cheaper in CPU than the default pglz, which matters when one agency sends megabytes).
ALTER TABLE refusals ADD COLUMN archive_id bigint REFERENCES raw_archive (id);
ALTER TABLE raw_archive ALTER COLUMN body SET COMPRESSION lz4;
ALTER TABLE refusals ALTER COLUMN raw SET COMPRESSION lz4;

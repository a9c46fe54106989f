-- Statistics only where the planner uses them.
--
-- ANALYZE samples every column; on the wide ones (payloads, Avro bodies, raw archived bytes,
-- identifier lists) that is most of its cost, and no query filters or joins on them (the one
-- expression over a payload, payload->>'order_type', is applied after an index finds the
-- person's events). Their statistics target is set to 0 so refreshing statistics — which the hub
-- does itself where the server's autovacuum is off — stays cheap as the tables grow.
ALTER TABLE events ALTER COLUMN payload SET STATISTICS 0;
ALTER TABLE events ALTER COLUMN avro SET STATISTICS 0;
ALTER TABLE events ALTER COLUMN identifiers SET STATISTICS 0;
ALTER TABLE raw_archive ALTER COLUMN body SET STATISTICS 0;
ALTER TABLE raw_archive ALTER COLUMN headers SET STATISTICS 0;
ALTER TABLE refusals ALTER COLUMN raw SET STATISTICS 0;
ALTER TABLE disclosure_log ALTER COLUMN fields_disclosed SET STATISTICS 0;
ALTER TABLE disclosure_log ALTER COLUMN fields_withheld SET STATISTICS 0;
ALTER TABLE disclosure_log ALTER COLUMN hash SET STATISTICS 0;
ALTER TABLE disclosure_log ALTER COLUMN prev_hash SET STATISTICS 0;
ALTER TABLE outbox ALTER COLUMN withheld_fields SET STATISTICS 0;

-- References to events that hold by construction, no longer checked row by row. Every row of
-- these tables names an event that is in the store when the row is written, and stays there:
-- - the projection tables are filled only by `project_events()`, from the transition table of
--   the very statement that stored their events;
-- - involvements, record identifiers and outbox rows are written from the events the same
--   transaction stored or read back from the store;
-- - events are append-only (`events_append_only` refuses a delete), so no event a row names can
--   go away afterwards.
-- Each foreign key still cost a row-level trigger and an index probe of events per row written:
-- some 7 million checks in a year's load (25 s of PostgreSQL's time, and as much again queueing
-- the trigger events). The references on the tables operators write (corrections, erasures,
-- retention holds, restrictions) and events' own reference to its person stay: those rows come
-- from people and commands, not from the statement that stored the event. The integration tests
-- check, after the sample month, a generated quarter and an erasure that moves records, that no
-- row of these tables names a missing event.
ALTER TABLE appointments DROP CONSTRAINT appointments_event_id_fkey;
ALTER TABLE bail_decisions DROP CONSTRAINT bail_decisions_event_id_fkey;
ALTER TABLE breaches DROP CONSTRAINT breaches_event_id_fkey;
ALTER TABLE charges DROP CONSTRAINT charges_event_id_fkey;
ALTER TABLE custody_events DROP CONSTRAINT custody_events_event_id_fkey;
ALTER TABLE drug_tests DROP CONSTRAINT drug_tests_event_id_fkey;
ALTER TABLE hearings DROP CONSTRAINT hearings_event_id_fkey;
ALTER TABLE offences_pleas DROP CONSTRAINT offences_pleas_event_id_fkey;
ALTER TABLE order_requirements DROP CONSTRAINT order_requirements_event_id_fkey;
ALTER TABLE order_terminations DROP CONSTRAINT order_terminations_event_id_fkey;
ALTER TABLE orders DROP CONSTRAINT orders_event_id_fkey;
ALTER TABLE pre_sentence_reports DROP CONSTRAINT pre_sentence_reports_event_id_fkey;
ALTER TABLE risk_registrations DROP CONSTRAINT risk_registrations_event_id_fkey;
ALTER TABLE supervision_requirements DROP CONSTRAINT supervision_requirements_event_id_fkey;
ALTER TABLE supervisions DROP CONSTRAINT supervisions_event_id_fkey;
ALTER TABLE treatment_episodes DROP CONSTRAINT treatment_episodes_event_id_fkey;
ALTER TABLE warrants DROP CONSTRAINT warrants_event_id_fkey;
ALTER TABLE involvements DROP CONSTRAINT involvements_event_id_fkey;
ALTER TABLE record_identifiers DROP CONSTRAINT record_identifiers_event_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT outbox_event_id_fkey;

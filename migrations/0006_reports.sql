-- Subject access exports (DPA 2018 s.45), for report 39; and indexes reports lean on.
CREATE TABLE subject_access_exports (
    id          bigserial   PRIMARY KEY,
    subject_id  uuid        NOT NULL,
    requester   text        NOT NULL,
    exported_at timestamptz NOT NULL,
    duration_ms bigint      NOT NULL,
    file        text        NOT NULL
);
CREATE INDEX hearings_subject_date ON hearings (subject_id, hearing_date);
CREATE INDEX orders_date ON orders (order_date);
CREATE INDEX charges_asn ON charges (asn);
CREATE INDEX disclosure_log_logged ON disclosure_log (logged_at);
CREATE INDEX outbox_decided ON outbox (decided_at);
CREATE INDEX treatment_episodes_subject_event ON treatment_episodes (subject_id, episode_event, event_date);

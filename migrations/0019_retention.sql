-- Retention (DPA 2018 s.39): records are kept no longer than their data class's period (per
-- agency where configured), and reviewed periodically. A review decides, for what is due: keep
-- until a date (a hold per record), or erase now. The decisions are kept.
CREATE TABLE retention_holds (
    event_id    uuid        PRIMARY KEY REFERENCES events (event_id),
    keep_until  date        NOT NULL,
    review_id   bigint      NOT NULL
);
CREATE TABLE retention_reviews (
    id          bigserial   PRIMARY KEY,
    agency      text        NOT NULL,
    data_class  text        NOT NULL,
    decision    text        NOT NULL CHECK (decision IN ('keep', 'erase')),
    keep_until  date,
    records     int         NOT NULL,
    decided_by  text        NOT NULL,
    decided_at  timestamptz NOT NULL
);
CREATE INDEX events_agency_class_time ON events (agency, data_class, occurred_at);

-- DPA 2018 s.62: consultation is logged as disclosure is. Every time a person's record is looked
-- at through the hub (a court's bench summary, its court list), or an attempt is refused, one
-- entry: who, in which role, for which court, about whom, which view, the purpose or hearing they
-- gave, and when. Hash-chained like the disclosure log, and verified with it by
-- `tracker audit verify`.
CREATE TABLE consultation_log (
    id          bigserial   PRIMARY KEY,
    viewer      text        NOT NULL,
    role        text        NOT NULL,
    court       text,
    subject_id  uuid,
    view        text        NOT NULL,
    purpose     text        NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('shown', 'refused')),
    viewed_at   timestamptz NOT NULL,
    prev_hash   text        NOT NULL,
    hash        text        NOT NULL
);
CREATE INDEX consultation_log_subject ON consultation_log (subject_id, viewed_at);
CREATE INDEX consultation_log_viewed ON consultation_log (viewed_at);

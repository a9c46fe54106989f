-- Sharing and routing: who is involved with whom, decisions, the disclosure log, the outbox.

-- An agency is involved with a person from an event that names it (source, next court, court of
-- a probation event, probation by a CO/SSO, treatment by a DRR/ATR), for a configured period.
CREATE TABLE involvements (
    event_id    uuid        NOT NULL REFERENCES events (event_id),
    agency      text        NOT NULL,
    subject_id  uuid        NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (event_id, agency)
);
CREATE INDEX involvements_subject ON involvements (subject_id, agency, occurred_at);

-- When each recipient first came into scope for a person (history catch-up was sent then).
CREATE TABLE recipient_scope (
    subject_id  uuid        NOT NULL,
    recipient   text        NOT NULL,
    since       timestamptz NOT NULL,
    PRIMARY KEY (subject_id, recipient)
);

-- Consent records in the order they were applied (the treatment feed and operators).
ALTER TABLE consents DROP CONSTRAINT consents_event_id_fkey;
ALTER TABLE consents ADD COLUMN ordinal bigserial;
ALTER TABLE consents ADD COLUMN decided_by text;

-- DPA 2018 s.62: every decision, hash-chained (hash = SHA-256 of the previous hash and the entry).
CREATE TABLE disclosure_log (
    id               bigserial   PRIMARY KEY,
    event_id         uuid        NOT NULL,
    subject_id       uuid,
    recipient        text        NOT NULL,
    stage            text        NOT NULL CHECK (stage IN ('decided', 'published')),
    decision         text        NOT NULL CHECK (decision IN ('deliver', 'redact', 'withhold')),
    reason           text,
    agreement        text,
    purpose          text,
    legal_basis      text,
    event_type       text        NOT NULL,
    data_class       text        NOT NULL,
    fields_disclosed text[]      NOT NULL,
    fields_withheld  text[]      NOT NULL,
    catch_up         boolean     NOT NULL,
    logged_at        timestamptz NOT NULL,
    prev_hash        text        NOT NULL,
    hash             text        NOT NULL
);
CREATE UNIQUE INDEX disclosure_log_decided ON disclosure_log (event_id, recipient) WHERE stage = 'decided';
CREATE INDEX disclosure_log_recipient ON disclosure_log (recipient, logged_at);

-- Deliveries decided and not yet confirmed by the broker; written with the event.
CREATE TABLE outbox (
    id                  bigserial   PRIMARY KEY,
    event_id            uuid        NOT NULL REFERENCES events (event_id),
    recipient           text        NOT NULL,
    message_id          uuid        NOT NULL UNIQUE,
    subject_id          uuid,
    withheld_fields     text[]      NOT NULL,
    agreement           text        NOT NULL,
    purpose             text        NOT NULL,
    legal_basis         text        NOT NULL,
    consent_scope       text,
    catch_up            boolean     NOT NULL,
    decided_at          timestamptz NOT NULL,
    published_at        timestamptz,
    withheld_at_publish timestamptz,
    UNIQUE (event_id, recipient)
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL AND withheld_at_publish IS NULL;

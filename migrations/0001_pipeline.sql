-- The inbound pipeline's store: raw archive, inbox, person index, append-only events, refusals.

CREATE TABLE raw_archive (
    id            bigserial PRIMARY KEY,
    agency        text        NOT NULL,
    connector     text        NOT NULL,
    routing_key   text        NOT NULL,
    message_id    text        NOT NULL,
    body_sha256   text        NOT NULL,
    body          bytea       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '{}',
    received_at   timestamptz NOT NULL,
    UNIQUE (agency, message_id, body_sha256)
);
CREATE INDEX raw_archive_connector_received ON raw_archive (connector, received_at);

-- One row per message processed: its outcome. A redelivered message finds its row and changes nothing.
CREATE TABLE inbox (
    agency        text        NOT NULL,
    message_id    text        NOT NULL,
    connector     text        NOT NULL,
    archive_id    bigint      REFERENCES raw_archive (id),
    outcome       text        NOT NULL CHECK (outcome IN ('applied', 'partial', 'refused', 'kept')),
    items         int         NOT NULL DEFAULT 0,
    events        int         NOT NULL DEFAULT 0,
    refused       int         NOT NULL DEFAULT 0,
    kept          int         NOT NULL DEFAULT 0,
    detail        text,
    processed_at  timestamptz NOT NULL,
    PRIMARY KEY (agency, message_id)
);

CREATE TABLE subjects (
    subject_id    uuid PRIMARY KEY,
    created_at    timestamptz NOT NULL
);

CREATE TABLE subject_identifiers (
    scheme        text        NOT NULL,
    value         text        NOT NULL,
    subject_id    uuid        NOT NULL REFERENCES subjects (subject_id),
    source_agency text        NOT NULL,
    first_seen_at timestamptz NOT NULL,
    PRIMARY KEY (scheme, value)
);
CREATE INDEX subject_identifiers_subject ON subject_identifiers (subject_id);

-- Names and dates of birth seen for a subject, per agency.
CREATE TABLE subject_details (
    subject_id    uuid        NOT NULL REFERENCES subjects (subject_id),
    name          text        NOT NULL DEFAULT '',
    date_of_birth date,
    source_agency text        NOT NULL,
    first_seen_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX subject_details_unique
    ON subject_details (subject_id, name, coalesce(date_of_birth, '0001-01-01'), source_agency);

-- Identifiers that point at two different subjects: not merged, raised for review.
CREATE TABLE identity_conflicts (
    id            bigserial PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    agency        text        NOT NULL,
    message_id    text        NOT NULL,
    identifiers   jsonb       NOT NULL,
    subject_ids   uuid[]      NOT NULL,
    detected_at   timestamptz NOT NULL,
    status        text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'linked', 'kept_apart')),
    decided_by    text,
    decided_at    timestamptz
);

-- Identifiers that failed their check: they link nobody; an operator sees why here.
CREATE TABLE identifier_rejections (
    id            bigserial PRIMARY KEY,
    agency        text        NOT NULL,
    message_id    text        NOT NULL,
    item_position int         NOT NULL,
    scheme        text        NOT NULL,
    value         text        NOT NULL,
    reason        text        NOT NULL,
    recorded_at   timestamptz NOT NULL,
    UNIQUE (agency, message_id, item_position, scheme, value)
);

-- Append-only: every canonical event, as validated Avro (the Update envelope) and queryable columns.
CREATE TABLE events (
    seq           bigserial   NOT NULL UNIQUE,
    event_id      uuid        PRIMARY KEY,
    event_type    text        NOT NULL,
    data_class    text        NOT NULL,
    subject_id    uuid        REFERENCES subjects (subject_id),
    occurred_at   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL,
    agency        text        NOT NULL,
    connector     text        NOT NULL,
    message_id    text        NOT NULL,
    item_position int         NOT NULL,
    identifiers   jsonb       NOT NULL,
    person_name   text,
    date_of_birth date,
    payload       jsonb       NOT NULL,
    avro          bytea       NOT NULL
);
CREATE INDEX events_subject_time ON events (subject_id, occurred_at);
CREATE INDEX events_type_time ON events (event_type, occurred_at);
CREATE INDEX events_message ON events (agency, message_id);

-- Events are never edited or deleted; only an identity review may attach a subject later.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'events are append-only: delete refused';
    END IF;
    IF (to_jsonb(NEW) - 'subject_id') IS DISTINCT FROM (to_jsonb(OLD) - 'subject_id') THEN
        RAISE EXCEPTION 'events are append-only: only subject_id may be set by identity review';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

-- Each refusal (a whole payload, or one item of it), kept with its raw bytes; it is also the
-- outbox of dead letters: dead_lettered_at is set once the broker confirmed the dead letter.
CREATE TABLE refusals (
    id              bigserial PRIMARY KEY,
    agency          text        NOT NULL,
    connector       text        NOT NULL,
    routing_key     text        NOT NULL,
    message_id      text        NOT NULL,
    item_position   int         NOT NULL DEFAULT 0,
    code            text        NOT NULL,
    reason          text        NOT NULL,
    raw             bytea       NOT NULL,
    refused_at      timestamptz NOT NULL,
    dead_lettered_at timestamptz,
    UNIQUE (agency, message_id, item_position)
);
CREATE INDEX refusals_connector_code ON refusals (connector, code);

-- Items kept but not routed (e.g. a probation event type Tracker does not handle), counted by label.
CREATE TABLE kept_items (
    agency        text        NOT NULL,
    connector     text        NOT NULL,
    message_id    text        NOT NULL,
    item_position int         NOT NULL,
    label         text        NOT NULL,
    kept_at       timestamptz NOT NULL,
    PRIMARY KEY (agency, message_id, item_position)
);

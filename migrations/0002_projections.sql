-- Projections the reports read: one fact table per kind of thing, keyed by the event that stated
-- it, maintained in the same transaction as the event by a trigger. Being keyed by event id they
-- are idempotent, and they can be rebuilt from the events at any time.

CREATE TABLE custody_events (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, event_type text NOT NULL,
    station text, custody_ref text, asn text, occurred_at timestamptz NOT NULL, offence_code text, offence_date date
);
CREATE TABLE charges (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, station text, custody_ref text, asn text,
    offence_code text, offence_date date, charged_at timestamptz NOT NULL, next_court text, next_court_date date
);
CREATE TABLE bail_decisions (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, decided_by text NOT NULL,
    status text, decided_at timestamptz NOT NULL, court text, next_court text, next_court_date date
);
CREATE TABLE cases (
    case_urn text NOT NULL, court text NOT NULL, subject_id uuid, first_seen date NOT NULL,
    PRIMARY KEY (case_urn, court)
);
CREATE TABLE hearings (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, court text NOT NULL, case_urn text,
    hearing_date date NOT NULL, hearing_type text, trial_status text, present boolean, outcome text,
    next_hearing_date date, next_court text, adjournment_reason text, remand text, review_outcome text
);
CREATE INDEX hearings_case ON hearings (case_urn, hearing_date);
CREATE INDEX hearings_court_date ON hearings (court, hearing_date);
CREATE TABLE offences_pleas (
    event_id uuid NOT NULL REFERENCES events (event_id), seq int NOT NULL, subject_id uuid, court text, case_urn text,
    hearing_date date, code text, offence_date date, plea text, verdict text, conviction_date date, result_code text,
    PRIMARY KEY (event_id, seq)
);
CREATE TABLE orders (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, court text, case_urn text,
    order_date date NOT NULL, order_type text NOT NULL, length_months int, amount numeric, review_date date
);
CREATE TABLE order_requirements (
    event_id uuid NOT NULL REFERENCES events (event_id), ordinal int NOT NULL, requirement text NOT NULL,
    hours int, days int, months int, PRIMARY KEY (event_id, ordinal)
);
CREATE TABLE warrants (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, action text NOT NULL CHECK (action IN ('issued', 'executed')),
    court text, case_urn text, at timestamptz NOT NULL, warrant_type text, reason text
);
CREATE TABLE supervisions (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, order_id text, order_type text, court text,
    start_date date, length_months int, officer_code text, team text
);
CREATE TABLE supervision_requirements (
    event_id uuid NOT NULL REFERENCES events (event_id), ordinal int NOT NULL, requirement text NOT NULL,
    hours int, days int, months int, PRIMARY KEY (event_id, ordinal)
);
CREATE TABLE appointments (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, order_id text, appointment_type text,
    appointment_date date, attended boolean, complied boolean, enforceable boolean, outcome_code text, hours_worked int
);
CREATE TABLE breaches (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, order_id text, court text,
    breach_date date, failures_to_comply int, reason text
);
CREATE TABLE order_terminations (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, order_id text, termination_date date, reason text
);
CREATE TABLE pre_sentence_reports (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, status text, court text,
    requested_date date, completed_date date
);
CREATE TABLE risk_registrations (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, action text, register_type text, registration_date date
);
CREATE TABLE drug_tests (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, setting text NOT NULL CHECK (setting IN ('arrest', 'treatment')),
    place text, tested_at timestamptz NOT NULL, opiates text, cocaine text, amphetamine text, cannabis text,
    benzodiazepines text, positive boolean NOT NULL
);
CREATE TABLE treatment_episodes (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, provider text, episode_event text,
    event_date date, referral_source text, discharge_reason text, modality text
);
CREATE TABLE consents (
    event_id uuid PRIMARY KEY REFERENCES events (event_id), subject_id uuid, source text NOT NULL, decision text NOT NULL,
    scope text NOT NULL, effective_date date, expiry_date date, recorded_at timestamptz NOT NULL
);
CREATE INDEX consents_subject_recorded ON consents (subject_id, recorded_at);
DO $$ DECLARE t text; BEGIN
    FOREACH t IN ARRAY ARRAY['custody_events','charges','bail_decisions','hearings','offences_pleas','orders','warrants',
        'supervisions','appointments','breaches','order_terminations','pre_sentence_reports','risk_registrations',
        'drug_tests','treatment_episodes','consents'] LOOP
        EXECUTE format('CREATE INDEX %I ON %I (subject_id)', t || '_subject', t);
    END LOOP;
END $$;

CREATE FUNCTION project_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p jsonb := NEW.payload;
    r jsonb;
    i int;
BEGIN
    CASE NEW.event_type
    WHEN 'Arrested', 'ReleasedNoFurtherAction', 'WarrantExecuted', 'DrugTestOnArrest' THEN
        INSERT INTO custody_events VALUES (NEW.event_id, NEW.subject_id, NEW.event_type, p->>'station', p->>'custody_ref',
            p->>'asn', NEW.occurred_at, p->>'offence_code', (p->>'offence_date')::date) ON CONFLICT DO NOTHING;
        IF NEW.event_type = 'WarrantExecuted' THEN
            INSERT INTO warrants VALUES (NEW.event_id, NEW.subject_id, 'executed', p->>'next_court', NULL, NEW.occurred_at,
                NULL, NULL) ON CONFLICT DO NOTHING;
        ELSIF NEW.event_type = 'DrugTestOnArrest' THEN
            INSERT INTO drug_tests VALUES (NEW.event_id, NEW.subject_id, 'arrest', p->>'station', NEW.occurred_at,
                p->>'opiates', p->>'cocaine', NULL, NULL, NULL,
                coalesce(p->>'opiates' = 'POS', false) OR coalesce(p->>'cocaine' = 'POS', false)) ON CONFLICT DO NOTHING;
        END IF;
    WHEN 'Charged' THEN
        INSERT INTO charges VALUES (NEW.event_id, NEW.subject_id, p->>'station', p->>'custody_ref', p->>'asn',
            p->>'offence_code', (p->>'offence_date')::date, NEW.occurred_at, p->>'next_court',
            (p->>'next_court_date')::date) ON CONFLICT DO NOTHING;
    WHEN 'BailDecision' THEN
        INSERT INTO bail_decisions VALUES (NEW.event_id, NEW.subject_id, 'police', p->>'bail_status', NEW.occurred_at,
            NULL, p->>'next_court', (p->>'next_court_date')::date) ON CONFLICT DO NOTHING;
    WHEN 'HearingResulted' THEN
        INSERT INTO cases VALUES (p->>'case_urn', p->>'court', NEW.subject_id, (p->>'hearing_date')::date)
            ON CONFLICT (case_urn, court) DO UPDATE SET first_seen = least(cases.first_seen, excluded.first_seen);
        INSERT INTO hearings VALUES (NEW.event_id, NEW.subject_id, p->>'court', p->>'case_urn', (p->>'hearing_date')::date,
            p->>'hearing_type', p->>'trial_status', (p->>'present')::boolean, p->>'outcome', (p->>'next_hearing_date')::date,
            p->>'next_court', p->>'adjournment_reason', p->>'remand', p->>'review_outcome') ON CONFLICT DO NOTHING;
        IF p->>'remand' IS NOT NULL THEN
            INSERT INTO bail_decisions VALUES (NEW.event_id, NEW.subject_id, 'court', p->>'remand', NEW.occurred_at,
                p->>'court', p->>'next_court', (p->>'next_hearing_date')::date) ON CONFLICT DO NOTHING;
        END IF;
        FOR r IN SELECT * FROM jsonb_array_elements(coalesce(p->'offences', '[]')) LOOP
            INSERT INTO offences_pleas VALUES (NEW.event_id, (r->>'seq')::int, NEW.subject_id, p->>'court', p->>'case_urn',
                (p->>'hearing_date')::date, r->>'code', (r->>'date')::date, r->>'plea', r->>'verdict',
                (r->>'conviction_date')::date, r->>'result_code') ON CONFLICT DO NOTHING;
        END LOOP;
    WHEN 'WarrantIssued' THEN
        INSERT INTO warrants VALUES (NEW.event_id, NEW.subject_id, 'issued', p->>'court', p->>'case_urn', NEW.occurred_at,
            p->>'warrant_type', p->>'reason') ON CONFLICT DO NOTHING;
    WHEN 'OrderMade' THEN
        INSERT INTO orders VALUES (NEW.event_id, NEW.subject_id, p->>'court', p->>'case_urn', (p->>'order_date')::date,
            p->>'order_type', (p->>'length_months')::int, (p->>'amount')::numeric, (p->>'review_date')::date)
            ON CONFLICT DO NOTHING;
        i := 0;
        FOR r IN SELECT * FROM jsonb_array_elements(coalesce(p->'requirements', '[]')) LOOP
            i := i + 1;
            INSERT INTO order_requirements VALUES (NEW.event_id, i, r->>'type', (r->>'hours')::int, (r->>'days')::int,
                (r->>'months')::int) ON CONFLICT DO NOTHING;
        END LOOP;
    WHEN 'SupervisionStarted' THEN
        INSERT INTO supervisions VALUES (NEW.event_id, NEW.subject_id, p->>'order_id', p->>'order_type', p->>'court',
            (p->>'start_date')::date, (p->>'length_months')::int, p->'officer'->>'code', p->>'team') ON CONFLICT DO NOTHING;
        i := 0;
        FOR r IN SELECT * FROM jsonb_array_elements(coalesce(p->'requirements', '[]')) LOOP
            i := i + 1;
            INSERT INTO supervision_requirements VALUES (NEW.event_id, i, r->>'type', (r->>'hours')::int, (r->>'days')::int,
                (r->>'months')::int) ON CONFLICT DO NOTHING;
        END LOOP;
    WHEN 'AppointmentOutcome' THEN
        INSERT INTO appointments VALUES (NEW.event_id, NEW.subject_id, p->>'order_id', p->>'appointment_type',
            (p->>'appointment_date')::date, (p->>'attended')::boolean, (p->>'complied')::boolean,
            (p->>'enforceable')::boolean, p->>'outcome_code', (p->>'hours_worked')::int) ON CONFLICT DO NOTHING;
    WHEN 'BreachInitiated' THEN
        INSERT INTO breaches VALUES (NEW.event_id, NEW.subject_id, p->>'order_id', p->>'court', (p->>'breach_date')::date,
            (p->>'failures_to_comply')::int, p->>'reason') ON CONFLICT DO NOTHING;
    WHEN 'OrderTerminated' THEN
        INSERT INTO order_terminations VALUES (NEW.event_id, NEW.subject_id, p->>'order_id', (p->>'termination_date')::date,
            p->>'reason') ON CONFLICT DO NOTHING;
    WHEN 'PreSentenceReport' THEN
        INSERT INTO pre_sentence_reports VALUES (NEW.event_id, NEW.subject_id, p->>'status', p->>'court',
            (p->>'requested_date')::date, (p->>'completed_date')::date) ON CONFLICT DO NOTHING;
    WHEN 'RiskRegistration' THEN
        INSERT INTO risk_registrations VALUES (NEW.event_id, NEW.subject_id, p->>'action', p->>'register_type',
            (p->>'registration_date')::date) ON CONFLICT DO NOTHING;
    WHEN 'DrugTestResult' THEN
        INSERT INTO drug_tests VALUES (NEW.event_id, NEW.subject_id, 'treatment', p->>'provider', NEW.occurred_at,
            p->>'opiates', p->>'cocaine', p->>'amphetamine', p->>'cannabis', p->>'benzodiazepines',
            'P' IN (coalesce(p->>'opiates', ''), coalesce(p->>'cocaine', ''), coalesce(p->>'amphetamine', ''),
                    coalesce(p->>'cannabis', ''), coalesce(p->>'benzodiazepines', ''))) ON CONFLICT DO NOTHING;
    WHEN 'TreatmentEpisode' THEN
        INSERT INTO treatment_episodes VALUES (NEW.event_id, NEW.subject_id, p->>'provider', p->>'episode_event',
            (p->>'event_date')::date, p->>'referral_source', p->>'discharge_reason', p->>'modality') ON CONFLICT DO NOTHING;
    WHEN 'ConsentChanged' THEN
        INSERT INTO consents (event_id, subject_id, source, decision, scope, effective_date, expiry_date, recorded_at)
            VALUES (NEW.event_id, NEW.subject_id, NEW.agency, p->>'decision', p->>'scope',
            (p->>'effective_date')::date, (p->>'expiry_date')::date, NEW.recorded_at) ON CONFLICT DO NOTHING;
    ELSE
        NULL;
    END CASE;
    RETURN NULL;
END $$;

CREATE TRIGGER events_project AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION project_event();

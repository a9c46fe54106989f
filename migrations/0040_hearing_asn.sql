-- A hearing's arrest/summons number (ASN) in its projection row.
--
-- charge-to-first-hearing matches each charge with the first hearing of its case by ASN, which
-- `hearings` did not hold: the report read it from every hearing's event payload (a million
-- events' store: 0.94-1.10 s, the slowest of the 42 reports, over the limit of a second on a slow
-- machine). `hearings.asn` is filled by the projection (the function of migration 0031, with the
-- one column added), back-filled from the events here, and indexed with the hearing date, so the
-- report finds each charge's first hearing by one index probe.
ALTER TABLE hearings ADD COLUMN asn text;
UPDATE hearings h SET asn = e.payload->>'asn'
FROM events e WHERE e.event_id = h.event_id AND e.payload->>'asn' IS NOT NULL;
CREATE INDEX hearings_asn_date ON hearings (asn, hearing_date) WHERE asn IS NOT NULL;

CREATE OR REPLACE FUNCTION project_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    types text[];
BEGIN
    SELECT array_agg(DISTINCT event_type) INTO types FROM new_records;
    IF types IS NULL THEN
        RETURN NULL;
    END IF;
    IF types && ARRAY['Arrested', 'ReleasedNoFurtherAction', 'WarrantExecuted', 'DrugTestOnArrest'] THEN
        INSERT INTO custody_events
        SELECT n.event_id, n.subject_id, n.event_type, n.payload->>'station', n.payload->>'custody_ref',
               n.payload->>'asn', n.occurred_at, n.payload->>'offence_code', (n.payload->>'offence_date')::date
        FROM new_records n
        WHERE n.event_type IN ('Arrested', 'ReleasedNoFurtherAction', 'WarrantExecuted', 'DrugTestOnArrest')
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'WarrantExecuted' = ANY(types) OR 'WarrantIssued' = ANY(types) THEN
        INSERT INTO warrants
        SELECT n.event_id, n.subject_id, 'executed', n.payload->>'next_court', NULL, n.occurred_at, NULL, NULL
        FROM new_records n WHERE n.event_type = 'WarrantExecuted'
        UNION ALL
        SELECT n.event_id, n.subject_id, 'issued', n.payload->>'court', n.payload->>'case_urn', n.occurred_at,
               n.payload->>'warrant_type', n.payload->>'reason'
        FROM new_records n WHERE n.event_type = 'WarrantIssued'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'DrugTestOnArrest' = ANY(types) OR 'DrugTestResult' = ANY(types) THEN
        INSERT INTO drug_tests
        SELECT n.event_id, n.subject_id, 'arrest', n.payload->>'station', n.occurred_at,
               n.payload->>'opiates', n.payload->>'cocaine', NULL, NULL, NULL,
               coalesce(n.payload->>'opiates' = 'POS', false) OR coalesce(n.payload->>'cocaine' = 'POS', false)
        FROM new_records n WHERE n.event_type = 'DrugTestOnArrest'
        UNION ALL
        SELECT n.event_id, n.subject_id, 'treatment', n.payload->>'provider', n.occurred_at,
               n.payload->>'opiates', n.payload->>'cocaine', n.payload->>'amphetamine', n.payload->>'cannabis',
               n.payload->>'benzodiazepines',
               'P' IN (coalesce(n.payload->>'opiates', ''), coalesce(n.payload->>'cocaine', ''),
                       coalesce(n.payload->>'amphetamine', ''), coalesce(n.payload->>'cannabis', ''),
                       coalesce(n.payload->>'benzodiazepines', ''))
        FROM new_records n WHERE n.event_type = 'DrugTestResult'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'Charged' = ANY(types) THEN
        INSERT INTO charges
        SELECT n.event_id, n.subject_id, n.payload->>'station', n.payload->>'custody_ref', n.payload->>'asn',
               n.payload->>'offence_code', (n.payload->>'offence_date')::date, n.occurred_at, n.payload->>'next_court',
               (n.payload->>'next_court_date')::date
        FROM new_records n WHERE n.event_type = 'Charged'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'BailDecision' = ANY(types) OR 'HearingResulted' = ANY(types) THEN
        INSERT INTO bail_decisions
        SELECT n.event_id, n.subject_id, 'police', n.payload->>'bail_status', n.occurred_at, NULL,
               n.payload->>'next_court', (n.payload->>'next_court_date')::date
        FROM new_records n WHERE n.event_type = 'BailDecision'
        UNION ALL
        SELECT n.event_id, n.subject_id, 'court', n.payload->>'remand', n.occurred_at, n.payload->>'court',
               n.payload->>'next_court', (n.payload->>'next_hearing_date')::date
        FROM new_records n WHERE n.event_type = 'HearingResulted' AND n.payload->>'remand' IS NOT NULL
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'HearingResulted' = ANY(types) THEN
        INSERT INTO cases (case_urn, court, subject_id, first_seen)
        SELECT h.case_urn, h.court, (array_agg(h.subject_id ORDER BY h.seq))[1], min(h.hearing_date)
        FROM (SELECT n.payload->>'case_urn' AS case_urn, n.payload->>'court' AS court, n.subject_id, n.seq,
                     (n.payload->>'hearing_date')::date AS hearing_date
              FROM new_records n WHERE n.event_type = 'HearingResulted') h
        GROUP BY h.case_urn, h.court
        ON CONFLICT (case_urn, court) DO UPDATE SET first_seen = least(cases.first_seen, excluded.first_seen);
        INSERT INTO hearings
        SELECT n.event_id, n.subject_id, n.payload->>'court', n.payload->>'case_urn', (n.payload->>'hearing_date')::date,
               n.payload->>'hearing_type', n.payload->>'trial_status', (n.payload->>'present')::boolean,
               n.payload->>'outcome', (n.payload->>'next_hearing_date')::date, n.payload->>'next_court',
               n.payload->>'adjournment_reason', n.payload->>'remand', n.payload->>'review_outcome', n.payload->>'asn'
        FROM new_records n WHERE n.event_type = 'HearingResulted'
        ON CONFLICT DO NOTHING;
        INSERT INTO offences_pleas
        SELECT n.event_id, (r->>'seq')::int, n.subject_id, n.payload->>'court', n.payload->>'case_urn',
               (n.payload->>'hearing_date')::date, r->>'code', (r->>'date')::date, r->>'plea', r->>'verdict',
               (r->>'conviction_date')::date, r->>'result_code'
        FROM new_records n CROSS JOIN LATERAL jsonb_array_elements(coalesce(n.payload->'offences', '[]')) AS r
        WHERE n.event_type = 'HearingResulted'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'OrderMade' = ANY(types) THEN
        INSERT INTO orders
        SELECT n.event_id, n.subject_id, n.payload->>'court', n.payload->>'case_urn', (n.payload->>'order_date')::date,
               n.payload->>'order_type', (n.payload->>'length_months')::int, (n.payload->>'amount')::numeric,
               (n.payload->>'review_date')::date
        FROM new_records n WHERE n.event_type = 'OrderMade'
        ON CONFLICT DO NOTHING;
        INSERT INTO order_requirements
        SELECT n.event_id, r.i, r.r->>'type', (r.r->>'hours')::int, (r.r->>'days')::int, (r.r->>'months')::int
        FROM new_records n
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(n.payload->'requirements', '[]')) WITH ORDINALITY AS r(r, i)
        WHERE n.event_type = 'OrderMade'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'SupervisionStarted' = ANY(types) THEN
        INSERT INTO supervisions
        SELECT n.event_id, n.subject_id, n.payload->>'order_id', n.payload->>'order_type', n.payload->>'court',
               (n.payload->>'start_date')::date, (n.payload->>'length_months')::int, n.payload->'officer'->>'code',
               n.payload->>'team'
        FROM new_records n WHERE n.event_type = 'SupervisionStarted'
        ON CONFLICT DO NOTHING;
        INSERT INTO supervision_requirements
        SELECT n.event_id, r.i, r.r->>'type', (r.r->>'hours')::int, (r.r->>'days')::int, (r.r->>'months')::int
        FROM new_records n
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(n.payload->'requirements', '[]')) WITH ORDINALITY AS r(r, i)
        WHERE n.event_type = 'SupervisionStarted'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'AppointmentOutcome' = ANY(types) THEN
        INSERT INTO appointments
        SELECT n.event_id, n.subject_id, n.payload->>'order_id', n.payload->>'appointment_type',
               (n.payload->>'appointment_date')::date, (n.payload->>'attended')::boolean,
               (n.payload->>'complied')::boolean, (n.payload->>'enforceable')::boolean, n.payload->>'outcome_code',
               (n.payload->>'hours_worked')::int
        FROM new_records n WHERE n.event_type = 'AppointmentOutcome'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'BreachInitiated' = ANY(types) THEN
        INSERT INTO breaches
        SELECT n.event_id, n.subject_id, n.payload->>'order_id', n.payload->>'court', (n.payload->>'breach_date')::date,
               (n.payload->>'failures_to_comply')::int, n.payload->>'reason'
        FROM new_records n WHERE n.event_type = 'BreachInitiated'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'OrderTerminated' = ANY(types) THEN
        INSERT INTO order_terminations
        SELECT n.event_id, n.subject_id, n.payload->>'order_id', (n.payload->>'termination_date')::date,
               n.payload->>'reason'
        FROM new_records n WHERE n.event_type = 'OrderTerminated'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'PreSentenceReport' = ANY(types) THEN
        INSERT INTO pre_sentence_reports
        SELECT n.event_id, n.subject_id, n.payload->>'status', n.payload->>'court',
               (n.payload->>'requested_date')::date, (n.payload->>'completed_date')::date
        FROM new_records n WHERE n.event_type = 'PreSentenceReport'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'RiskRegistration' = ANY(types) THEN
        INSERT INTO risk_registrations
        SELECT n.event_id, n.subject_id, n.payload->>'action', n.payload->>'register_type',
               (n.payload->>'registration_date')::date
        FROM new_records n WHERE n.event_type = 'RiskRegistration'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'TreatmentEpisode' = ANY(types) THEN
        INSERT INTO treatment_episodes
        SELECT n.event_id, n.subject_id, n.payload->>'provider', n.payload->>'episode_event',
               (n.payload->>'event_date')::date, n.payload->>'referral_source', n.payload->>'discharge_reason',
               n.payload->>'modality'
        FROM new_records n WHERE n.event_type = 'TreatmentEpisode'
        ON CONFLICT DO NOTHING;
    END IF;
    IF 'ConsentChanged' = ANY(types) THEN
        INSERT INTO consents (event_id, subject_id, source, decision, scope, effective_date, expiry_date, recorded_at)
        SELECT n.event_id, n.subject_id, n.agency, n.payload->>'decision', n.payload->>'scope',
               (n.payload->>'effective_date')::date, (n.payload->>'expiry_date')::date, n.recorded_at
        FROM new_records n WHERE n.event_type = 'ConsentChanged'
        ORDER BY n.seq
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;


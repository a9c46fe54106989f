//! `--detail`: the events behind a report's figures (for auditors) — which update, when, from
//! which agency, and for disclosure reports which recipient and decision. It lists records, never
//! their contents, so it cannot show a recipient's withheld data.

/// Per report, a query over the same parameters ($1 from, $2 to, $3 court, $4 agency) listing
/// the records its figures count.
pub const DETAIL: &[(&str, &str)] = &[
    (
        "offence-to-charge",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM charges t JOIN events e ON e.event_id = t.event_id WHERE (t.charged_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "charge-to-first-hearing",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM charges t JOIN events e ON e.event_id = t.event_id WHERE (t.charged_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "first-hearing-to-sentence",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM hearings t JOIN events e ON e.event_id = t.event_id WHERE t.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "offence-to-conviction",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM offences_pleas t JOIN events e ON e.event_id = t.event_id WHERE t.conviction_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "hearings-per-case",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM hearings t JOIN events e ON e.event_id = t.event_id WHERE t.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "adjournments",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM hearings t JOIN events e ON e.event_id = t.event_id WHERE t.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "trial-effectiveness",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM hearings t JOIN events e ON e.event_id = t.event_id WHERE t.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "guilty-plea-first-hearing",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM hearings t JOIN events e ON e.event_id = t.event_id WHERE t.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "completed-at-first-hearing",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM hearings t JOIN events e ON e.event_id = t.event_id WHERE t.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "warrants",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM warrants t JOIN events e ON e.event_id = t.event_id WHERE (t.at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "remand-outcomes",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM bail_decisions t JOIN events e ON e.event_id = t.event_id WHERE (t.decided_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "psr-turnaround",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM pre_sentence_reports t JOIN events e ON e.event_id = t.event_id WHERE coalesce(t.requested_date, t.completed_date) BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "sentencing-mix",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM orders t JOIN events e ON e.event_id = t.event_id WHERE t.order_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "open-caseload",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM hearings t JOIN events e ON e.event_id = t.event_id WHERE t.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "orders-by-requirement",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM orders t JOIN events e ON e.event_id = t.event_id WHERE t.order_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "order-commencement",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM orders t JOIN events e ON e.event_id = t.event_id WHERE t.order_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "appointment-compliance",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM appointments t JOIN events e ON e.event_id = t.event_id WHERE t.appointment_date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "breaches",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM breaches t JOIN events e ON e.event_id = t.event_id WHERE t.breach_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "breach-process-time",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM breaches t JOIN events e ON e.event_id = t.event_id WHERE t.breach_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "drr-reviews",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM hearings t JOIN events e ON e.event_id = t.event_id WHERE t.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "order-terminations",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM order_terminations t JOIN events e ON e.event_id = t.event_id WHERE t.termination_date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "unpaid-work",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM appointments t JOIN events e ON e.event_id = t.event_id WHERE t.appointment_date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "review-sanctions-incentives",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM hearings t JOIN events e ON e.event_id = t.event_id WHERE t.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "drug-test-on-arrest",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM drug_tests t JOIN events e ON e.event_id = t.event_id WHERE (t.tested_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "referral-after-positive-test",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM drug_tests t JOIN events e ON e.event_id = t.event_id WHERE (t.tested_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "referral-to-treatment-start",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM treatment_episodes t JOIN events e ON e.event_id = t.event_id WHERE t.event_date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "drug-test-trend",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM drug_tests t JOIN events e ON e.event_id = t.event_id WHERE (t.tested_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "treatment-retention",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM treatment_episodes t JOIN events e ON e.event_id = t.event_id WHERE t.event_date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "treatment-exits",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM treatment_episodes t JOIN events e ON e.event_id = t.event_id WHERE t.event_date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "reoffending-12-months",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM orders t JOIN events e ON e.event_id = t.event_id WHERE t.order_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "reoffending-by-disposal",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM orders t JOIN events e ON e.event_id = t.event_id WHERE t.order_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "repeat-defendants",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM hearings t JOIN events e ON e.event_id = t.event_id WHERE t.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR t.court = $3) ORDER BY 5, 1",
    ),
    (
        "risk-registrations",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM risk_registrations t JOIN events e ON e.event_id = t.event_id WHERE t.registration_date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "custody-outcomes",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM bail_decisions t JOIN events e ON e.event_id = t.event_id WHERE (t.decided_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "disclosures",
        "SELECT t.event_id::text AS event, t.event_type, t.recipient, t.decision, coalesce(t.reason, t.agreement, '') AS why, t.logged_at::text AS at FROM disclosure_log t WHERE (t.logged_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($4::text IS NULL OR t.recipient = $4) ORDER BY t.id",
    ),
    (
        "consent-coverage",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM consents t JOIN events e ON e.event_id = t.event_id WHERE coalesce(t.effective_date, (t.recorded_at AT TIME ZONE 'Europe/London')::date) BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "consent-changes",
        "SELECT DISTINCT e.event_id::text AS event, e.event_type, e.agency, e.message_id, e.occurred_at::text AS occurred FROM consents t JOIN events e ON e.event_id = t.event_id WHERE coalesce(t.effective_date, (t.recorded_at AT TIME ZONE 'Europe/London')::date) BETWEEN $1 AND $2 ORDER BY 5, 1",
    ),
    (
        "withheld-updates",
        "SELECT t.event_id::text AS event, t.event_type, t.recipient, t.decision, coalesce(t.reason, t.agreement, '') AS why, t.logged_at::text AS at FROM disclosure_log t WHERE (t.logged_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($4::text IS NULL OR t.recipient = $4) ORDER BY t.id",
    ),
    (
        "subject-access",
        "SELECT s.id::text AS export, s.subject_id::text AS person, s.requester, s.exported_at::text AS at FROM subject_access_exports s WHERE (s.exported_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 ORDER BY s.id",
    ),
    (
        "connector-throughput",
        "SELECT t.agency, t.message_id, t.connector, t.outcome, t.processed_at::text AS at FROM inbox t WHERE (t.processed_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($4::text IS NULL OR t.agency = $4) ORDER BY t.processed_at, t.message_id",
    ),
    (
        "dead-letters",
        "SELECT t.id::text AS dead_letter, t.connector, t.message_id, t.item_position::text AS item, t.code AS reason, coalesce(t.resolution, 'open') AS state FROM refusals t WHERE (t.refused_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($4::text IS NULL OR t.agency = $4) ORDER BY t.id",
    ),
    (
        "delivery-latency",
        "SELECT t.event_id::text AS event, t.recipient, t.decided_at::text AS decided, coalesce(t.published_at::text, '') AS confirmed FROM outbox t WHERE (t.decided_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($4::text IS NULL OR t.recipient = $4) ORDER BY t.id",
    ),
];

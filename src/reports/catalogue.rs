//! The report catalogue (REPORTS.md): each report is a definition a person can read and one SQL
//! query over the store's projections. Every query takes the same parameters: `$1` period start
//! and `$2` period end (dates, inclusive, by the date the report names), `$3` court code and `$4`
//! agency id (NULL: all), and returns text columns so one renderer serves every format.

/// How a report is best pictured in HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// Bars of the first numeric column, one per row.
    Bars,
    None,
}

pub struct ReportDef {
    pub number: u32,
    pub name: &'static str,
    pub title: &'static str,
    /// What the figures mean, printed in every output's header.
    pub definition: &'static str,
    pub sql: &'static str,
    pub chart: Chart,
}

pub const REPORTS: &[ReportDef] = &[
    ReportDef {
        number: 1,
        name: "offence-to-charge",
        title: "Offence to charge",
        definition: "Days from offence date to charge date, per charge, by force (the first two characters of the station code); period by charge date.",
        sql: "WITH c AS (
                SELECT left(station, 2) AS force, (charged_at AT TIME ZONE 'Europe/London')::date - offence_date AS days
                FROM charges
                WHERE (charged_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND offence_date IS NOT NULL
                  AND ($4::text IS NULL OR $4 LIKE 'police-%' AND left(station, 2) = right($4, 2)))
              SELECT force, count(*)::text AS charges,
                     percentile_cont(0.5) WITHIN GROUP (ORDER BY days)::text AS median_days,
                     round(avg(days), 1)::text AS mean_days,
                     percentile_cont(0.9) WITHIN GROUP (ORDER BY days)::text AS p90_days
              FROM c GROUP BY force ORDER BY force",
        chart: Chart::Bars,
    },
    ReportDef {
        number: 2,
        name: "charge-to-first-hearing",
        title: "Charge to first hearing",
        definition: "Days from charge to the first court hearing of the case (matched by arrest/summons number), by court; period by charge date.",
        sql: "WITH first AS (
                SELECT DISTINCT ON (e.payload->>'asn') e.payload->>'asn' AS asn, h.court, h.hearing_date
                FROM hearings h JOIN events e USING (event_id)
                WHERE e.payload->>'asn' IS NOT NULL ORDER BY e.payload->>'asn', h.hearing_date),
              c AS (
                SELECT f.court, f.hearing_date - (ch.charged_at AT TIME ZONE 'Europe/London')::date AS days
                FROM charges ch JOIN first f ON f.asn = ch.asn
                WHERE (ch.charged_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($3::text IS NULL OR f.court = $3))
              SELECT court, count(*)::text AS charges, percentile_cont(0.5) WITHIN GROUP (ORDER BY days)::text AS median_days,
                     round(avg(days), 1)::text AS mean_days
              FROM c GROUP BY court ORDER BY court",
        chart: Chart::Bars,
    },
    ReportDef {
        number: 7,
        name: "trial-effectiveness",
        title: "Trial effectiveness",
        definition: "Trial hearings by status (effective, cracked, ineffective) and their share of the court's trials; period by hearing date.",
        sql: "SELECT court, coalesce(trial_status, 'NOT RECORDED') AS status, count(*)::text AS trials,
                     round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY court), 1)::text AS percent
              FROM hearings WHERE hearing_type = 'TRIAL' AND hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR court = $3)
              GROUP BY court, trial_status ORDER BY court, status",
        chart: Chart::Bars,
    },
    ReportDef {
        number: 8,
        name: "guilty-plea-first-hearing",
        title: "Guilty plea at first hearing",
        definition: "Share of cases with a guilty plea entered at their first hearing, by court; period by the date of the first hearing.",
        sql: "WITH first AS (
                SELECT DISTINCT ON (case_urn, court) case_urn, court, event_id, hearing_date FROM hearings
                ORDER BY case_urn, court, hearing_date, event_id),
              cases AS (
                SELECT f.court, EXISTS (SELECT 1 FROM offences_pleas o WHERE o.event_id = f.event_id AND o.plea = 'G') AS guilty
                FROM first f WHERE f.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR f.court = $3))
              SELECT court, count(*)::text AS cases, count(*) FILTER (WHERE guilty)::text AS guilty_plea,
                     round(100.0 * count(*) FILTER (WHERE guilty) / count(*), 1)::text AS percent
              FROM cases GROUP BY court ORDER BY court",
        chart: Chart::Bars,
    },
    ReportDef {
        number: 10,
        name: "warrants",
        title: "Warrants",
        definition: "Warrants issued (by reason, with or without bail) and executed; days from issue to execution, matching each execution to the person's latest earlier warrant; period by the date issued or executed.",
        sql: "WITH issued AS (
                SELECT subject_id, at, coalesce(reason, '-') AS reason, coalesce(warrant_type, '-') AS warrant_type, court
                FROM warrants WHERE action = 'issued'),
              executed AS (
                SELECT x.at, (SELECT i.at FROM issued i WHERE i.subject_id = x.subject_id AND i.at <= x.at ORDER BY i.at DESC LIMIT 1) AS issued_at
                FROM warrants x WHERE x.action = 'executed')
              SELECT 'issued' AS action, reason || ' ' || warrant_type AS kind, count(*)::text AS warrants, '' AS mean_days_to_execution
              FROM issued WHERE (at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($3::text IS NULL OR court = $3)
              GROUP BY reason, warrant_type
              UNION ALL
              SELECT 'executed', 'all', count(*)::text,
                     coalesce(round(avg((at AT TIME ZONE 'Europe/London')::date - (issued_at AT TIME ZONE 'Europe/London')::date), 1)::text, '')
              FROM executed WHERE (at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 HAVING count(*) > 0
              ORDER BY 1 DESC, 2",
        chart: Chart::None,
    },
    ReportDef {
        number: 11,
        name: "remand-outcomes",
        title: "Remand outcomes",
        definition: "Bail and remand decisions by status (UB unconditional bail, CB conditional bail, RIC remanded in custody), by police and by court; period by decision date.",
        sql: "SELECT decided_by, status, count(*)::text AS decisions
              FROM bail_decisions WHERE status IS NOT NULL AND (decided_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2
                AND ($3::text IS NULL OR court = $3)
              GROUP BY decided_by, status ORDER BY decided_by, status",
        chart: Chart::Bars,
    },
    ReportDef {
        number: 13,
        name: "sentencing-mix",
        title: "Sentencing mix",
        definition: "Disposals by type — custody, suspended sentence, community order, fine, discharge — by court; period by sentence date.",
        sql: "SELECT court, CASE order_type WHEN 'CUSTODY' THEN 'custody' WHEN 'SSO' THEN 'suspended' WHEN 'CO' THEN 'community order'
                                 WHEN 'FINE' THEN 'fine' ELSE 'discharge' END AS disposal, count(*)::text AS orders
              FROM orders WHERE order_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR court = $3)
              GROUP BY 1, 2 ORDER BY 1, 2",
        chart: Chart::Bars,
    },
    ReportDef {
        number: 15,
        name: "orders-by-requirement",
        title: "Orders by requirement",
        definition: "Community and suspended sentence orders made, by requirement type (UPW, RAR, DRR, ATR, curfew, programme); period by order date.",
        sql: "SELECT r.requirement, count(DISTINCT o.event_id)::text AS orders
              FROM orders o JOIN order_requirements r USING (event_id)
              WHERE o.order_type IN ('CO', 'SSO') AND o.order_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR o.court = $3)
              GROUP BY r.requirement ORDER BY r.requirement",
        chart: Chart::Bars,
    },
    ReportDef {
        number: 17,
        name: "appointment-compliance",
        title: "Appointment compliance",
        definition: "Of recorded appointment outcomes, the share attended and complied, per order and overall; period by appointment date.",
        sql: "SELECT coalesce(order_id, 'all orders') AS order_id, count(*)::text AS appointments,
                     count(*) FILTER (WHERE attended AND complied)::text AS attended_and_complied,
                     round(100.0 * count(*) FILTER (WHERE attended AND complied) / count(*), 1)::text AS percent
              FROM appointments WHERE appointment_date BETWEEN $1 AND $2
              GROUP BY ROLLUP (order_id) HAVING count(*) > 0 ORDER BY order_id NULLS LAST",
        chart: Chart::None,
    },
    ReportDef {
        number: 21,
        name: "order-terminations",
        title: "Order terminations",
        definition: "Orders terminated, by reason (completed, revoked, breach resentenced, transferred); period by termination date.",
        sql: "SELECT coalesce(reason, 'NOT RECORDED') AS reason, count(*)::text AS terminations
              FROM order_terminations WHERE termination_date BETWEEN $1 AND $2 GROUP BY 1 ORDER BY 1",
        chart: Chart::Bars,
    },
    ReportDef {
        number: 22,
        name: "unpaid-work",
        title: "Unpaid work",
        definition: "Unpaid work hours ordered (UPW requirements of orders made in the period) against hours worked at UPW appointments of the person's supervision of that order, per order and overall.",
        sql: "WITH ordered AS (
                SELECT o.event_id, o.subject_id, o.court, o.order_date, sum(r.hours) AS hours
                FROM orders o JOIN order_requirements r USING (event_id)
                WHERE r.requirement = 'UPW' AND o.order_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR o.court = $3)
                GROUP BY o.event_id, o.subject_id, o.court, o.order_date),
              worked AS (
                SELECT d.event_id, coalesce(sum(a.hours_worked), 0) AS hours FROM ordered d
                LEFT JOIN LATERAL (SELECT s.order_id FROM supervisions s WHERE s.subject_id = d.subject_id AND s.start_date >= d.order_date
                                   ORDER BY s.start_date LIMIT 1) s ON true
                LEFT JOIN appointments a ON a.order_id = s.order_id AND a.subject_id = d.subject_id
                GROUP BY d.event_id)
              SELECT coalesce(d.court || ' ' || d.order_date, 'all orders') AS order_made, sum(d.hours)::text AS hours_ordered,
                     sum(w.hours)::text AS hours_worked
              FROM ordered d JOIN worked w USING (event_id)
              GROUP BY ROLLUP (d.court || ' ' || d.order_date) HAVING count(*) > 0 ORDER BY 1 NULLS LAST",
        chart: Chart::None,
    },
    ReportDef {
        number: 24,
        name: "drug-test-on-arrest",
        title: "Drug tests on arrest",
        definition: "Tests on arrest and the positive rate per substance (opiates, cocaine), by custody suite; period by test date.",
        sql: "SELECT place AS custody_suite, count(*)::text AS tests,
                     count(*) FILTER (WHERE opiates = 'POS')::text AS opiates_positive,
                     round(100.0 * count(*) FILTER (WHERE opiates = 'POS') / count(*), 1)::text AS opiates_percent,
                     count(*) FILTER (WHERE cocaine = 'POS')::text AS cocaine_positive,
                     round(100.0 * count(*) FILTER (WHERE cocaine = 'POS') / count(*), 1)::text AS cocaine_percent
              FROM drug_tests WHERE setting = 'arrest' AND (tested_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2
                AND ($4::text IS NULL OR $4 LIKE 'police-%' AND left(place, 2) = right($4, 2))
              GROUP BY place ORDER BY place",
        chart: Chart::Bars,
    },
    ReportDef {
        number: 33,
        name: "risk-registrations",
        title: "Risk registrations",
        definition: "Risk registrations added and removed, by register type; period by registration date.",
        sql: "SELECT register_type, count(*) FILTER (WHERE action = 'added')::text AS added,
                     count(*) FILTER (WHERE action = 'removed')::text AS removed
              FROM risk_registrations WHERE registration_date BETWEEN $1 AND $2 GROUP BY 1 ORDER BY 1",
        chart: Chart::Bars,
    },
    ReportDef {
        number: 35,
        name: "disclosures",
        title: "Disclosures",
        definition: "Updates delivered per recipient, by data class, agreement and purpose, with the number of copies that had fields redacted; period by decision date (DPA 2018 s.62 log).",
        sql: "SELECT recipient, data_class, agreement, purpose, count(*)::text AS delivered,
                     count(*) FILTER (WHERE decision = 'redact')::text AS with_fields_redacted
              FROM disclosure_log WHERE stage = 'decided' AND decision <> 'withhold'
                AND (logged_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($4::text IS NULL OR recipient = $4)
              GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3",
        chart: Chart::None,
    },
    ReportDef {
        number: 38,
        name: "withheld-updates",
        title: "Withheld updates",
        definition: "Updates withheld, per recipient and reason (no agreement, condition not met, no consent, denied), with the agreement concerned; includes decisions changed at publish time; period by decision date.",
        sql: "SELECT recipient, reason, coalesce(agreement, '-') AS agreement, count(*)::text AS withheld
              FROM disclosure_log WHERE decision = 'withhold'
                AND (logged_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($4::text IS NULL OR recipient = $4)
              GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        chart: Chart::None,
    },
    ReportDef {
        number: 40,
        name: "connector-throughput",
        title: "Connector throughput",
        definition: "Messages received, applied and refused per connector, and refusals by reason; period by processing date.",
        sql: "SELECT i.connector, 'all' AS reason, count(*)::text AS messages,
                     count(*) FILTER (WHERE i.outcome IN ('applied', 'partial', 'kept'))::text AS applied,
                     count(*) FILTER (WHERE i.outcome IN ('refused', 'partial'))::text AS refused
              FROM inbox i WHERE (i.processed_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($4::text IS NULL OR i.agency = $4)
              GROUP BY i.connector
              UNION ALL
              SELECT r.connector, r.code, '', '', count(*)::text FROM refusals r
              WHERE (r.refused_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($4::text IS NULL OR r.agency = $4)
              GROUP BY r.connector, r.code
              ORDER BY 1, 2",
        chart: Chart::None,
    },
    ReportDef {
        number: 41,
        name: "dead-letters",
        title: "Dead letters",
        definition: "Dead letters by connector and reason: how many, how many still open, the oldest open one's age in days at the period end, and replays (reprocessed) and purges.",
        sql: "SELECT connector, code AS reason, count(*)::text AS dead_letters, count(*) FILTER (WHERE resolved_at IS NULL)::text AS open,
                     coalesce(($2::date - min((refused_at AT TIME ZONE 'Europe/London')::date) FILTER (WHERE resolved_at IS NULL))::text, '') AS oldest_open_days,
                     count(*) FILTER (WHERE resolution = 'reprocessed')::text AS replayed,
                     count(*) FILTER (WHERE resolution = 'purged')::text AS purged
              FROM refusals WHERE (refused_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($4::text IS NULL OR agency = $4)
              GROUP BY 1, 2 ORDER BY 1, 2",
        chart: Chart::None,
    },
];

pub fn find(name: &str) -> Option<&'static ReportDef> {
    REPORTS.iter().find(|r| r.name == name)
}

//! The report catalogue: each report is a definition a person can read and one SQL
//! query over the store's projections. Every query takes the same parameters: `$1` period start
//! and `$2` period end (dates, inclusive, by the date the report names), `$3` court code and `$4`
//! agency id (NULL: all), and returns text columns so one renderer serves every format.

/// How a report is best pictured in HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// One bar per row: the length from the `value` column, labelled by the `labels` columns
    /// (joined), the value written beside it.
    Bars {
        value: &'static str,
        labels: &'static [&'static str],
    },
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
        chart: Chart::Bars { value: "median_days", labels: &["force"] },
    },
    ReportDef {
        number: 2,
        name: "charge-to-first-hearing",
        title: "Charge to first hearing",
        definition: "Days from charge to the first court hearing of the case (matched by arrest/summons number), by court; period by charge date.",
        // Each charge's first hearing by one probe of `hearings_asn_date` (migration 0040): read
        // from every hearing's event payload, the report took a second over a year's store.
        sql: "WITH c AS (
                SELECT f.court, f.hearing_date - (ch.charged_at AT TIME ZONE 'Europe/London')::date AS days
                FROM charges ch
                CROSS JOIN LATERAL (SELECT h.court, h.hearing_date FROM hearings h
                                    WHERE h.asn = ch.asn ORDER BY h.hearing_date LIMIT 1) f
                WHERE (ch.charged_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND ($3::text IS NULL OR f.court = $3))
              SELECT court, count(*)::text AS charges, percentile_cont(0.5) WITHIN GROUP (ORDER BY days)::text AS median_days,
                     round(avg(days), 1)::text AS mean_days
              FROM c GROUP BY court ORDER BY court",
        chart: Chart::Bars { value: "median_days", labels: &["court"] },
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
        chart: Chart::Bars { value: "trials", labels: &["court", "status"] },
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
        chart: Chart::Bars { value: "percent", labels: &["court"] },
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
                SELECT x.at, (SELECT i.at FROM warrants i WHERE i.action = 'issued' AND i.subject_id = x.subject_id AND i.at <= x.at
                              ORDER BY i.at DESC LIMIT 1) AS issued_at
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
        chart: Chart::Bars { value: "decisions", labels: &["decided_by", "status"] },
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
        chart: Chart::Bars { value: "orders", labels: &["court", "disposal"] },
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
        chart: Chart::Bars { value: "orders", labels: &["requirement"] },
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
        chart: Chart::Bars { value: "terminations", labels: &["reason"] },
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
        chart: Chart::Bars { value: "tests", labels: &["custody_suite"] },
    },
    ReportDef {
        number: 33,
        name: "risk-registrations",
        title: "Risk registrations",
        definition: "Risk registrations added and removed, by register type; period by registration date.",
        sql: "SELECT register_type, count(*) FILTER (WHERE action = 'added')::text AS added,
                     count(*) FILTER (WHERE action = 'removed')::text AS removed
              FROM risk_registrations WHERE registration_date BETWEEN $1 AND $2 GROUP BY 1 ORDER BY 1",
        chart: Chart::Bars { value: "added", labels: &["register_type"] },
    },
    ReportDef {
        number: 35,
        name: "disclosures",
        title: "Disclosures",
        definition: "Updates delivered per recipient, by data class, agreement and purpose, with the number of copies that had fields redacted — including updates delivered when a later record decided them again — and the number of deliveries retracted since (a retraction notice sent because records received later showed the agreement did not allow it); period by decision date (DPA 2018 s.62 log).",
        // From the log's daily rollup (migration 0007), where '' stands for none. A retraction is
        // logged as a withholding under the agreement concerned, at stage 'retracted'.
        sql: "WITH d AS (SELECT * FROM disclosure_daily WHERE day BETWEEN $1 AND $2 AND ($4::text IS NULL OR recipient = $4)),
                   r AS (SELECT recipient, data_class, agreement, sum(entries) AS n FROM d WHERE stage = 'retracted' GROUP BY 1, 2, 3)
              SELECT g.recipient, g.data_class, nullif(g.agreement, '') AS agreement, nullif(g.purpose, '') AS purpose,
                     sum(g.entries)::text AS delivered,
                     coalesce(sum(g.entries) FILTER (WHERE g.decision = 'redact'), 0)::text AS with_fields_redacted,
                     coalesce(max(r.n), 0)::text AS retracted
              FROM d g LEFT JOIN r ON r.recipient = g.recipient AND r.data_class = g.data_class AND r.agreement = g.agreement
              WHERE g.stage IN ('decided', 'redecided') AND g.decision <> 'withhold'
              GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3",
        chart: Chart::None,
    },
    ReportDef {
        number: 38,
        name: "withheld-updates",
        title: "Withheld updates",
        definition: "Updates withheld, per recipient and reason (no agreement, condition not met, no consent, denied), with the agreement concerned; includes decisions changed at publish time; period by decision date.",
        // From the log's daily rollup (migration 0007), where '' stands for none.
        sql: "SELECT recipient, nullif(reason, '') AS reason, CASE agreement WHEN '' THEN '-' ELSE agreement END AS agreement,
                     sum(entries)::text AS withheld
              FROM disclosure_daily WHERE decision = 'withhold'
                AND day BETWEEN $1 AND $2 AND ($4::text IS NULL OR recipient = $4)
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
    ReportDef {
        number: 3,
        name: "first-hearing-to-sentence",
        title: "First hearing to sentence",
        definition: "Days from a case's first hearing to the hearing that sentenced it, per sentenced case, by court; period by sentence date.",
        sql: "WITH first AS (SELECT case_urn, court, min(hearing_date) AS first_date FROM hearings GROUP BY 1, 2),
              sentenced AS (SELECT DISTINCT ON (case_urn, court) case_urn, court, hearing_date FROM hearings
                            WHERE outcome = 'sentenced' ORDER BY case_urn, court, hearing_date)
              SELECT s.court, count(*)::text AS cases, percentile_cont(0.5) WITHIN GROUP (ORDER BY s.hearing_date - f.first_date)::text AS median_days,
                     round(avg(s.hearing_date - f.first_date), 1)::text AS mean_days
              FROM sentenced s JOIN first f USING (case_urn, court)
              WHERE s.hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR s.court = $3)
              GROUP BY s.court ORDER BY s.court",
        chart: Chart::Bars { value: "median_days", labels: &["court"] },
    },
    ReportDef {
        number: 4,
        name: "offence-to-conviction",
        title: "Offence to conviction",
        definition: "Days from offence date to conviction date, per convicted offence (each case's offence counted once), by court; period by conviction date.",
        sql: "WITH convicted AS (SELECT DISTINCT ON (case_urn, court, seq) court, conviction_date - offence_date AS days, conviction_date
                                 FROM offences_pleas WHERE conviction_date IS NOT NULL AND offence_date IS NOT NULL
                                 ORDER BY case_urn, court, seq, hearing_date)
              SELECT court, count(*)::text AS offences, percentile_cont(0.5) WITHIN GROUP (ORDER BY days)::text AS median_days,
                     round(avg(days), 1)::text AS mean_days
              FROM convicted WHERE conviction_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR court = $3)
              GROUP BY court ORDER BY court",
        chart: Chart::Bars { value: "median_days", labels: &["court"] },
    },
    ReportDef {
        number: 5,
        name: "hearings-per-case",
        title: "Hearings per completed case",
        definition: "Hearings per completed case (sentenced, acquitted or withdrawn), split into cases with a trial hearing and without, by court; period by completion date.",
        sql: "WITH done AS (SELECT case_urn, court, min(hearing_date) AS completed FROM hearings
                            WHERE outcome IN ('sentenced', 'acquitted', 'withdrawn') GROUP BY 1, 2),
              per_case AS (SELECT d.court, d.case_urn, count(h.*) AS hearings, bool_or(h.hearing_type = 'TRIAL') AS trial
                           FROM done d JOIN hearings h ON h.case_urn = d.case_urn AND h.court = d.court AND h.hearing_date <= d.completed
                           WHERE d.completed BETWEEN $1 AND $2 AND ($3::text IS NULL OR d.court = $3) GROUP BY d.court, d.case_urn)
              SELECT court, CASE WHEN trial THEN 'trial' ELSE 'non-trial' END AS cases_of_kind, count(*)::text AS cases,
                     round(avg(hearings), 2)::text AS hearings_per_case
              FROM per_case GROUP BY 1, 2 ORDER BY 1, 2",
        chart: Chart::Bars { value: "hearings_per_case", labels: &["court", "cases_of_kind"] },
    },
    ReportDef {
        number: 6,
        name: "adjournments",
        title: "Adjournments",
        definition: "Adjournments by reason, adjournments per case, and mean days from the adjourned hearing to the next; period by hearing date.",
        sql: "WITH a AS (SELECT court, case_urn, coalesce(adjournment_reason, 'NOT RECORDED') AS reason, next_hearing_date - hearing_date AS days
                         FROM hearings WHERE outcome = 'adjourned' AND hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR court = $3))
              SELECT reason, count(*)::text AS adjournments,
                     round(count(*)::numeric / (SELECT count(DISTINCT (case_urn, court)) FROM a), 2)::text AS per_case,
                     round(avg(days), 1)::text AS mean_days_to_next
              FROM a GROUP BY reason ORDER BY reason",
        chart: Chart::Bars { value: "adjournments", labels: &["reason"] },
    },
    ReportDef {
        number: 9,
        name: "completed-at-first-hearing",
        title: "Completed at first hearing",
        definition: "Share of cases sentenced or otherwise disposed (acquitted, withdrawn) at their first hearing, by court; period by first hearing date.",
        sql: "WITH first AS (SELECT DISTINCT ON (case_urn, court) case_urn, court, hearing_date, outcome FROM hearings
                             ORDER BY case_urn, court, hearing_date, event_id)
              SELECT court, count(*)::text AS cases,
                     count(*) FILTER (WHERE outcome IN ('sentenced', 'acquitted', 'withdrawn'))::text AS completed_at_first,
                     round(100.0 * count(*) FILTER (WHERE outcome IN ('sentenced', 'acquitted', 'withdrawn')) / count(*), 1)::text AS percent
              FROM first WHERE hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR court = $3)
              GROUP BY court ORDER BY court",
        chart: Chart::Bars { value: "percent", labels: &["court"] },
    },
    ReportDef {
        number: 12,
        name: "psr-turnaround",
        title: "Pre-sentence report turnaround",
        definition: "Pre-sentence reports: days from request to completion, and the share completed before the person's next sentencing hearing at that court; period by request date.",
        sql: "WITH r AS (SELECT subject_id, court, requested_date FROM pre_sentence_reports WHERE status = 'requested'),
              c AS (SELECT subject_id, court, requested_date, completed_date FROM pre_sentence_reports WHERE status = 'completed'),
              psr AS (
                SELECT r.court, r.requested_date, c.completed_date,
                       (SELECT min(h.hearing_date) FROM hearings h WHERE h.subject_id = r.subject_id AND h.court = r.court
                          AND h.hearing_type = 'SENTENCE' AND h.hearing_date >= r.requested_date) AS sentenced
                FROM r LEFT JOIN c ON c.subject_id = r.subject_id AND c.court = r.court AND c.requested_date = r.requested_date
                WHERE r.requested_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR r.court = $3))
              SELECT court, count(*)::text AS requested, count(completed_date)::text AS completed,
                     coalesce(round(avg(completed_date - requested_date), 1)::text, '') AS mean_days,
                     count(*) FILTER (WHERE completed_date < sentenced)::text AS completed_before_sentence
              FROM psr GROUP BY court ORDER BY court",
        chart: Chart::None,
    },
    ReportDef {
        number: 14,
        name: "open-caseload",
        title: "Open caseload",
        definition: "Cases not yet disposed (sentenced, acquitted, withdrawn) at the period end, by age from first hearing in bands 0-28, 29-56, 57-91 and 92+ days, by court.",
        sql: "WITH c AS (SELECT case_urn, court, min(hearing_date) AS first_date,
                                bool_or(outcome IN ('sentenced', 'acquitted', 'withdrawn') AND hearing_date <= $2) AS disposed
                         FROM hearings WHERE hearing_date <= $2 GROUP BY 1, 2)
              SELECT court, CASE WHEN $2 - first_date <= 28 THEN '0-28' WHEN $2 - first_date <= 56 THEN '29-56'
                                 WHEN $2 - first_date <= 91 THEN '57-91' ELSE '92+' END AS age_days, count(*)::text AS open_cases
              FROM c WHERE NOT disposed AND ($3::text IS NULL OR court = $3) AND $1 <= $2 GROUP BY 1, 2 ORDER BY 1, 2",
        chart: Chart::Bars { value: "open_cases", labels: &["court", "age_days"] },
    },
    ReportDef {
        number: 16,
        name: "order-commencement",
        title: "Order commencement",
        definition: "Days from a community or suspended sentence order to the person's first supervision start on or after it; period by order date.",
        sql: "SELECT o.court, o.order_type, count(*)::text AS orders, count(s.start_date)::text AS started,
                     coalesce(round(avg(s.start_date - o.order_date), 1)::text, '') AS mean_days_to_start
              FROM orders o LEFT JOIN LATERAL (SELECT min(start_date) AS start_date FROM supervisions s
                                               WHERE s.subject_id = o.subject_id AND s.start_date >= o.order_date) s ON true
              WHERE o.order_type IN ('CO', 'SSO') AND o.order_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR o.court = $3)
              GROUP BY 1, 2 ORDER BY 1, 2",
        chart: Chart::None,
    },
    ReportDef {
        number: 18,
        name: "breaches",
        title: "Breaches",
        definition: "Breaches initiated, by the type of order breached and its requirements, and the breach rate per order supervised; period by breach date.",
        sql: "WITH b AS (SELECT b.event_id, coalesce(s.order_type, '?') AS order_type,
                                coalesce((SELECT string_agg(DISTINCT r.requirement, '+' ORDER BY r.requirement) FROM supervision_requirements r
                                          WHERE r.event_id = s.event_id), '-') AS requirements
                         FROM breaches b LEFT JOIN supervisions s ON s.order_id = b.order_id AND s.subject_id = b.subject_id
                         WHERE b.breach_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR b.court = $3))
              SELECT order_type, requirements, count(*)::text AS breaches,
                     round(count(*)::numeric / nullif((SELECT count(*) FROM supervisions x WHERE x.order_type = b.order_type AND x.start_date <= $2), 0), 2)::text AS per_order
              FROM b GROUP BY 1, 2 ORDER BY 1, 2",
        chart: Chart::None,
    },
    ReportDef {
        number: 19,
        name: "breach-process-time",
        title: "Breach process time",
        definition: "Per breach: days from the person's first enforceable failure before it (within the order) to breach initiated, and from breach initiated to the next BREACH hearing; period by breach date.",
        sql: "SELECT b.court, b.breach_date::text AS breach_date,
                     coalesce((b.breach_date - (SELECT min(a.appointment_date) FROM appointments a WHERE a.subject_id = b.subject_id
                        AND a.order_id = b.order_id AND a.enforceable AND a.appointment_date <= b.breach_date))::text, 'not recorded') AS failure_to_breach_days,
                     coalesce(((SELECT min(h.hearing_date) FROM hearings h WHERE h.subject_id = b.subject_id AND h.hearing_type = 'BREACH'
                        AND h.hearing_date >= b.breach_date) - b.breach_date)::text, 'not yet') AS breach_to_hearing_days
              FROM breaches b WHERE b.breach_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR b.court = $3) ORDER BY b.breach_date",
        chart: Chart::None,
    },
    ReportDef {
        number: 20,
        name: "drr-reviews",
        title: "DRR reviews",
        definition: "Drug rehabilitation requirement review hearings scheduled (review dates set by orders with a DRR) against REVIEW hearings held, by review outcome; period by review date.",
        sql: "SELECT 'scheduled' AS kind, '-' AS outcome, count(*)::text AS reviews FROM orders o
              WHERE o.review_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR o.court = $3)
                AND EXISTS (SELECT 1 FROM order_requirements r WHERE r.event_id = o.event_id AND r.requirement = 'DRR')
              HAVING count(*) > 0
              UNION ALL
              SELECT 'held', coalesce(review_outcome, 'NOT RECORDED'), count(*)::text FROM hearings
              WHERE hearing_type = 'REVIEW' AND hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR court = $3) GROUP BY 2
              ORDER BY 1 DESC, 2",
        chart: Chart::None,
    },
    ReportDef {
        number: 23,
        name: "review-sanctions-incentives",
        title: "Review sanctions and incentives",
        definition: "Sanctions, warnings and incentives given at review hearings, per person (and good progress noted); period by hearing date.",
        sql: "SELECT subject_id::text AS person, count(*) FILTER (WHERE review_outcome = 'SANCTION')::text AS sanctions,
                     count(*) FILTER (WHERE review_outcome = 'WARNING')::text AS warnings,
                     count(*) FILTER (WHERE review_outcome = 'INCENTIVE')::text AS incentives,
                     count(*) FILTER (WHERE review_outcome = 'GOOD_PROGRESS')::text AS good_progress
              FROM hearings WHERE hearing_type = 'REVIEW' AND hearing_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR court = $3)
              GROUP BY subject_id ORDER BY 1",
        chart: Chart::None,
    },
    ReportDef {
        number: 25,
        name: "referral-after-positive-test",
        title: "Referral after a positive test on arrest",
        definition: "People with a positive drug test on arrest, how many were referred to treatment afterwards, and the days from test to referral; period by test date.",
        sql: "WITH t AS (SELECT DISTINCT ON (subject_id) subject_id, (tested_at AT TIME ZONE 'Europe/London')::date AS tested FROM drug_tests
                         WHERE setting = 'arrest' AND positive AND (tested_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2
                         ORDER BY subject_id, tested_at),
              r AS (SELECT t.subject_id, t.tested, (SELECT min(e.event_date) FROM treatment_episodes e WHERE e.subject_id = t.subject_id
                                                      AND e.episode_event = 'REF' AND e.event_date >= t.tested) AS referred FROM t)
              SELECT count(*)::text AS positive_people, count(referred)::text AS referred,
                     coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY referred - tested)::text, '') AS median_days,
                     coalesce(round(avg(referred - tested), 1)::text, '') AS mean_days
              FROM r HAVING count(*) > 0",
        chart: Chart::None,
    },
    ReportDef {
        number: 26,
        name: "referral-to-treatment-start",
        title: "Referral to treatment start",
        definition: "Days from referral to treatment start, per referral that started; period by referral date.",
        sql: "WITH r AS (SELECT subject_id, event_date AS referred FROM treatment_episodes WHERE episode_event = 'REF' AND event_date BETWEEN $1 AND $2),
              s AS (SELECT r.referred, (SELECT min(e.event_date) FROM treatment_episodes e WHERE e.subject_id = r.subject_id
                                         AND e.episode_event = 'STA' AND e.event_date >= r.referred) AS started FROM r)
              SELECT count(*)::text AS referrals, count(started)::text AS started,
                     coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY started - referred)::text, '') AS median_days,
                     coalesce(round(avg(started - referred), 1)::text, '') AS mean_days
              FROM s HAVING count(*) > 0",
        chart: Chart::None,
    },
    ReportDef {
        number: 27,
        name: "drug-test-trend",
        title: "Drug test trend under a DRR",
        definition: "Per person under a drug rehabilitation requirement: treatment drug tests and the positive rate by week since the order (week 0 is the order's first seven days); period by test date.",
        // Each DRR person's treatment tests are read in time order from their index (migration
        // 0042) and grouped per week for that person alone: hashing every test against the orders
        // and sorting the 230,000 joined rows of a year took over a second on a slow machine. The
        // local-date bounds are stated as instants (a test's London date is on or after a day
        // exactly when it is at or after that day's London midnight, which always exists), so the
        // index bounds the reading. Grouped and ordered by the week as a number, turned into text
        // only for the rows returned.
        sql: "WITH drr AS (SELECT DISTINCT ON (o.subject_id) o.subject_id, o.order_date FROM orders o
                           JOIN order_requirements r USING (event_id) WHERE r.requirement = 'DRR' ORDER BY o.subject_id, o.order_date)
              SELECT d.subject_id::text AS person, w.week_number::text AS week, w.tests::text AS tests,
                     w.positive::text AS positive, round(100.0 * w.positive / w.tests, 1)::text AS percent_positive
              FROM drr d CROSS JOIN LATERAL (
                  SELECT ((t.tested_at AT TIME ZONE 'Europe/London')::date - d.order_date) / 7 AS week_number,
                         count(*) AS tests, count(*) FILTER (WHERE t.positive) AS positive
                  FROM drug_tests t
                  WHERE t.subject_id = d.subject_id AND t.setting = 'treatment'
                    AND t.tested_at >= (greatest(d.order_date, $1)::timestamp AT TIME ZONE 'Europe/London')
                    AND t.tested_at < (($2 + 1)::timestamp AT TIME ZONE 'Europe/London')
                  GROUP BY 1) w
              ORDER BY d.subject_id, w.week_number",
        chart: Chart::None,
    },
    ReportDef {
        number: 28,
        name: "treatment-retention",
        title: "Treatment retention",
        definition: "Treatment starts in the period; of those whose twelfth week ended by the period end, the share still in treatment then or completed (planned discharge); completions.",
        sql: "WITH s AS (SELECT subject_id, event_date AS started FROM treatment_episodes WHERE episode_event = 'STA' AND event_date BETWEEN $1 AND $2),
              o AS (SELECT s.started, (SELECT min(e.event_date) FROM treatment_episodes e WHERE e.subject_id = s.subject_id
                                         AND e.episode_event = 'DIS' AND e.event_date >= s.started) AS discharged,
                           (SELECT e.discharge_reason FROM treatment_episodes e WHERE e.subject_id = s.subject_id AND e.episode_event = 'DIS'
                              AND e.event_date >= s.started ORDER BY e.event_date LIMIT 1) AS reason FROM s)
              SELECT count(*)::text AS starts, count(*) FILTER (WHERE started + 84 <= $2)::text AS twelve_weeks_due,
                     count(*) FILTER (WHERE started + 84 <= $2 AND (discharged IS NULL OR discharged > started + 84 OR reason = 'PC'))::text AS retained_or_completed,
                     count(*) FILTER (WHERE reason = 'PC')::text AS completions
              FROM o HAVING count(*) > 0",
        chart: Chart::None,
    },
    ReportDef {
        number: 29,
        name: "treatment-exits",
        title: "Treatment exits",
        definition: "Discharges from treatment by reason; unplanned exits (dropped out, in prison) followed by a court event about the person within 28 days; period by discharge date.",
        sql: "SELECT coalesce(discharge_reason, 'NOT RECORDED') AS reason, count(*)::text AS discharges,
                     count(*) FILTER (WHERE discharge_reason IN ('DO', 'IP') AND EXISTS (
                        SELECT 1 FROM hearings h WHERE h.subject_id = t.subject_id AND h.hearing_date BETWEEN t.event_date AND t.event_date + 28))::text
                       AS unplanned_then_court_within_28_days
              FROM treatment_episodes t WHERE episode_event = 'DIS' AND event_date BETWEEN $1 AND $2 GROUP BY 1 ORDER BY 1",
        chart: Chart::Bars { value: "discharges", labels: &["reason"] },
    },
    ReportDef {
        number: 30,
        name: "reoffending-12-months",
        title: "Reoffending within 12 months",
        definition: "Of people sentenced in the period, the share charged with a new offence within 12 months of their (first) sentence in the period, and the number of new offences.",
        sql: "WITH p AS (SELECT subject_id, min(order_date) AS sentenced FROM orders WHERE order_date BETWEEN $1 AND $2
                           AND ($3::text IS NULL OR court = $3) AND subject_id IS NOT NULL GROUP BY subject_id),
              n AS (SELECT p.subject_id, (SELECT count(*) FROM charges c WHERE c.subject_id = p.subject_id
                       AND (c.charged_at AT TIME ZONE 'Europe/London')::date > p.sentenced
                       AND (c.charged_at AT TIME ZONE 'Europe/London')::date <= p.sentenced + interval '12 months') AS new_offences FROM p)
              SELECT count(*)::text AS people_sentenced, count(*) FILTER (WHERE new_offences > 0)::text AS reoffended,
                     round(100.0 * count(*) FILTER (WHERE new_offences > 0) / count(*), 1)::text AS percent, sum(new_offences)::text AS new_offences
              FROM n HAVING count(*) > 0",
        chart: Chart::None,
    },
    ReportDef {
        number: 31,
        name: "reoffending-by-disposal",
        title: "Reoffending by disposal",
        definition: "Report 30 split by disposal type and by requirement (people sentenced in the period; a person counts under each requirement of their order).",
        sql: "WITH p AS (SELECT DISTINCT ON (o.subject_id) o.subject_id, o.event_id, o.order_type, o.order_date AS sentenced FROM orders o
                           WHERE o.order_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR o.court = $3) AND o.subject_id IS NOT NULL
                           ORDER BY o.subject_id, o.order_date),
              n AS (SELECT p.*, (SELECT count(*) FROM charges c WHERE c.subject_id = p.subject_id
                       AND (c.charged_at AT TIME ZONE 'Europe/London')::date > p.sentenced
                       AND (c.charged_at AT TIME ZONE 'Europe/London')::date <= p.sentenced + interval '12 months') AS new_offences FROM p),
              split AS (SELECT order_type AS disposal, '-' AS requirement, new_offences FROM n
                        UNION ALL
                        SELECT n.order_type, r.requirement, n.new_offences FROM n JOIN order_requirements r ON r.event_id = n.event_id)
              SELECT disposal, requirement, count(*)::text AS people, count(*) FILTER (WHERE new_offences > 0)::text AS reoffended,
                     round(100.0 * count(*) FILTER (WHERE new_offences > 0) / count(*), 1)::text AS percent
              FROM split GROUP BY 1, 2 ORDER BY 1, 2",
        chart: Chart::None,
    },
    ReportDef {
        number: 32,
        name: "repeat-defendants",
        title: "Repeat defendants",
        definition: "People with three or more separate cases whose first hearing fell in the 12 months to the period end.",
        sql: "SELECT subject_id::text AS person, count(DISTINCT (case_urn, court))::text AS cases
              FROM cases WHERE first_seen > $2 - interval '12 months' AND first_seen <= $2 AND subject_id IS NOT NULL AND $1 <= $2
                AND ($3::text IS NULL OR court = $3)
              GROUP BY subject_id HAVING count(DISTINCT (case_urn, court)) >= 3 ORDER BY 2 DESC, 1",
        chart: Chart::None,
    },
    ReportDef {
        number: 34,
        name: "custody-outcomes",
        title: "Custody outcomes",
        definition: "Remands in custody (RIC decisions) and custodial sentences; days on remand from each RIC decision to the person's next bail decision, sentence or the period end; period by decision or sentence date.",
        sql: "WITH ric AS (
                SELECT b.subject_id, b.decided_at,
                       least(coalesce((SELECT min(n.decided_at) FROM bail_decisions n WHERE n.subject_id = b.subject_id AND n.decided_at > b.decided_at), 'infinity'),
                             coalesce((SELECT min(o.order_date)::timestamptz FROM orders o WHERE o.subject_id = b.subject_id
                                       AND o.order_date >= (b.decided_at AT TIME ZONE 'Europe/London')::date), 'infinity'),
                             ($2::date + 1)::timestamptz) AS ended
                FROM bail_decisions b WHERE b.status = 'RIC' AND (b.decided_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2)
              SELECT 'remanded in custody' AS outcome, count(*)::text AS people,
                     round(avg(((ended AT TIME ZONE 'Europe/London')::date - (decided_at AT TIME ZONE 'Europe/London')::date)), 1)::text AS mean_days_on_remand
              FROM ric HAVING count(*) > 0
              UNION ALL
              SELECT 'custodial sentence', count(*)::text, '' FROM orders WHERE order_type = 'CUSTODY' AND order_date BETWEEN $1 AND $2
                AND ($3::text IS NULL OR court = $3) HAVING count(*) > 0",
        chart: Chart::None,
    },
    ReportDef {
        number: 36,
        name: "consent-coverage",
        title: "Consent coverage",
        definition: "Of people with health data recorded by the period end, the share whose consent covers each recipient scope (CRT courts, PRB probation) on the period's last day.",
        sql: "WITH people AS (SELECT DISTINCT subject_id FROM events WHERE data_class = 'health' AND subject_id IS NOT NULL
                               AND (occurred_at AT TIME ZONE 'Europe/London')::date <= $2 AND $1 <= $2),
              latest AS (SELECT DISTINCT ON (p.subject_id, s.scope) p.subject_id, s.scope, c.decision, c.effective_date, c.expiry_date
                         FROM people p CROSS JOIN (VALUES ('CRT'), ('PRB')) AS s(scope)
                         LEFT JOIN consents c ON c.subject_id = p.subject_id AND c.scope IN (s.scope, 'ALL')
                              AND (c.recorded_at AT TIME ZONE 'Europe/London')::date <= $2
                         ORDER BY p.subject_id, s.scope, c.ordinal DESC NULLS LAST)
              SELECT scope, count(*)::text AS people_with_health_data,
                     count(*) FILTER (WHERE decision = 'G' AND coalesce(effective_date, $2) <= $2 AND coalesce(expiry_date, $2) >= $2)::text AS covered,
                     round(100.0 * count(*) FILTER (WHERE decision = 'G' AND coalesce(effective_date, $2) <= $2 AND coalesce(expiry_date, $2) >= $2) / count(*), 1)::text AS percent
              FROM latest GROUP BY scope ORDER BY scope",
        chart: Chart::Bars { value: "percent", labels: &["scope"] },
    },
    ReportDef {
        number: 37,
        name: "consent-changes",
        title: "Consent changes",
        definition: "Consents granted, refused, withdrawn and expired in the period (by effective or expiry date), and grants expiring in the 30 days after it.",
        sql: "SELECT change, consents::text FROM (
                SELECT 1 AS n, 'granted' AS change, count(*) AS consents FROM consents WHERE decision = 'G' AND effective_date BETWEEN $1 AND $2
                UNION ALL SELECT 2, 'refused', count(*) FROM consents WHERE decision = 'R' AND effective_date BETWEEN $1 AND $2
                UNION ALL SELECT 3, 'withdrawn', count(*) FROM consents WHERE decision = 'W' AND effective_date BETWEEN $1 AND $2
                UNION ALL SELECT 4, 'expired', count(*) FROM consents WHERE decision = 'G' AND expiry_date BETWEEN $1 AND $2
                UNION ALL SELECT 5, 'expiring in the next 30 days', count(*) FROM consents WHERE decision = 'G'
                          AND expiry_date > $2 AND expiry_date <= $2 + 30) c
              WHERE (SELECT count(*) FROM consents WHERE effective_date BETWEEN $1 AND $2 OR expiry_date BETWEEN $1 AND $2 + 30) > 0
              ORDER BY n",
        chart: Chart::Bars { value: "consents", labels: &["change"] },
    },
    ReportDef {
        number: 39,
        name: "subject-access",
        title: "Subject access",
        definition: "Subject access exports produced (tracker person export: everything held about a person and every disclosure of it), by requester, with the time taken to produce them; period by export date.",
        sql: "SELECT requester, count(*)::text AS exports, round(avg(duration_ms))::text AS mean_ms, max(duration_ms)::text AS max_ms
              FROM subject_access_exports WHERE (exported_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2
              GROUP BY requester ORDER BY requester",
        chart: Chart::None,
    },
    ReportDef {
        number: 42,
        name: "delivery-latency",
        title: "Delivery latency",
        definition: "Time from receipt (decision) to confirmed delivery per recipient — median, 95th and 99th percentile seconds, each the least latency that share of deliveries did not exceed, to the millisecond below 1 s and to three significant figures above — and the share of updates whose person was matched automatically (neither held without a person nor in an identity conflict); period by decision date, and by recording date for the share.",
        sql: "WITH buckets AS (
                SELECT recipient, bucket_ms, sum(deliveries) AS n FROM delivery_latencies
                WHERE day BETWEEN $1 AND $2 AND ($4::text IS NULL OR recipient = $4) GROUP BY 1, 2),
              running AS (
                SELECT recipient, bucket_ms, sum(n) OVER (PARTITION BY recipient ORDER BY bucket_ms) AS upto,
                       sum(n) OVER (PARTITION BY recipient) AS total FROM buckets),
              recorded AS (SELECT sum(events) AS events FROM events_recorded_daily WHERE day BETWEEN $1 AND $2),
              unmatched AS (
                SELECT count(*) AS events FROM (
                  SELECT event_id FROM events WHERE subject_id IS NULL
                    AND (recorded_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2
                  UNION
                  SELECT e.event_id FROM identity_conflicts c JOIN events e ON e.event_id = c.event_id
                  WHERE (e.recorded_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2) AS u)
              SELECT recipient, max(total)::text AS deliveries,
                     round(min(bucket_ms) FILTER (WHERE upto >= 0.5 * total) / 1000.0, 3)::text AS median_s,
                     round(min(bucket_ms) FILTER (WHERE upto >= 0.95 * total) / 1000.0, 3)::text AS p95_s,
                     round(min(bucket_ms) FILTER (WHERE upto >= 0.99 * total) / 1000.0, 3)::text AS p99_s
              FROM running GROUP BY recipient
              UNION ALL
              SELECT 'matched automatically', r.events::text,
                     round(100.0 * (r.events - u.events) / r.events, 1)::text || '%', '', ''
              FROM recorded r, unmatched u WHERE r.events > 0
              ORDER BY 1",
        chart: Chart::None,
    },
];

/// The catalogue in report-number order.
pub fn in_order() -> Vec<&'static ReportDef> {
    let mut all: Vec<&ReportDef> = REPORTS.iter().collect();
    all.sort_by_key(|r| r.number);
    all
}

pub fn find(name: &str) -> Option<&'static ReportDef> {
    REPORTS.iter().find(|r| r.name == name)
}

-- Statistics on the local calendar day of the times the reports cut their period by. A report's
-- period is a range of days in Europe/London, `(t AT TIME ZONE 'Europe/London')::date BETWEEN
-- $1 AND $2`; without statistics on that expression the planner guesses it keeps a handful of
-- rows, and joins what it keeps by nested loop. On a store of 84,000 events that took
-- charge-to-first-hearing to 2 s (4,521 charges each compared with 5,384 first hearings); with
-- these it is a hash join of 66 ms. Only the projection tables the reports join are covered:
-- the hub's own tables (events, outbox, the disclosure log, the inbox) are analysed while traffic
-- flows, and their reports aggregate one table without such joins.
CREATE STATISTICS charges_charged_day ON ((charged_at AT TIME ZONE 'Europe/London')::date) FROM charges;
CREATE STATISTICS warrants_day ON ((at AT TIME ZONE 'Europe/London')::date) FROM warrants;
CREATE STATISTICS bail_decisions_decided_day ON ((decided_at AT TIME ZONE 'Europe/London')::date) FROM bail_decisions;
CREATE STATISTICS drug_tests_tested_day ON ((tested_at AT TIME ZONE 'Europe/London')::date) FROM drug_tests;
CREATE STATISTICS consents_recorded_day ON ((recorded_at AT TIME ZONE 'Europe/London')::date) FROM consents;
CREATE STATISTICS refusals_refused_day ON ((refused_at AT TIME ZONE 'Europe/London')::date) FROM refusals;

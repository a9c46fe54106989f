//! One person's offence and what follows it: arrest, charge, bail, hearings (adjourned, tried),
//! sentence, supervision, treatment — written into the feeds as the agencies would record them.
use std::fmt::Write as _;

use chrono::{Duration, NaiveDate};

use super::feeds::*;
use super::people::*;

/// A court case's result as an XML `Case`.
/// Reviews of a drug rehabilitation (or alcohol treatment) requirement every four weeks for up to
/// three months, each adjourned to the next; one in ten scheduled is not held.
pub(super) fn review_hearings(
    f: &mut Feeds,
    rng: &mut Rng,
    p: &Person,
    urn: &str,
    court: &'static str,
    sentenced: NaiveDate,
    end: NaiveDate,
) {
    for k in 1..=3 {
        let day = sentenced + Duration::days(28 * k);
        if day > end || rng.chance(10) {
            continue;
        }
        let outcome = *rng.pick(&["GOOD_PROGRESS", "GOOD_PROGRESS", "WARNING", "SANCTION", "INCENTIVE"]);
        let tail = format!(
            "    <Adjournment nextDate=\"{}\" nextCourt=\"{court}\" reason=\"REVIEW\" remand=\"UB\"/>\n    <Review outcome=\"{outcome}\"/>\n",
            day + Duration::days(28)
        );
        f.court.entry((day, court)).or_default().push(case_xml(
            p,
            urn,
            day,
            "REVIEW",
            None,
            true,
            None,
            false,
            "ADJOURNED",
            &tail,
        ));
    }
}

/// A custody record number's serial for a person's `j`th offence: unique per detention (a
/// custody row sent again with the same number corrects the first) for up to 12,500 people with
/// 40 offences each. The first three offences keep the serials a year's traffic always had.
fn detention_serial(p: &Person, j: usize) -> usize {
    if j < 3 { p.n * 3 + j } else { 500_000 + (p.n * 40 + j) % 500_000 }
}

pub(super) fn person_offence(f: &mut Feeds, rng: &mut Rng, p: &Person, j: usize, day: NaiveDate, end: NaiveDate) {
    let stations: &[&'static str] = if p.force == "05" { &["05CL", "05AN"] } else { &["13BD"] };
    let station = *rng.pick(stations);
    let courts: &[&'static str] = if p.force == "05" { &["B05LV00", "B05LP00"] } else { &["B13BD00"] };
    let court = *rng.pick(courts);
    let custody = format!("{station}/26/{:06}", detention_serial(p, j));
    // The arrest/summons number links the charge to the court case.
    let urn = custody.replace('/', "");
    let offence = Some(("TH68010", "Stole goods from a shop", day));
    f.police_row(p, station, "ARR", day, "10:05", &custody, offence, None, None);
    if rng.chance(50) {
        let (op, co) = (if rng.chance(40) { "POS" } else { "NEG" }, if rng.chance(30) { "POS" } else { "NEG" });
        f.police_row(p, station, "DT1", day, "11:10", &custody, None, None, Some((op, co)));
    }
    let first = day + Duration::days(rng.range(1, 21));
    let bail = *rng.pick(&["UB", "CB", "RIC"]);
    f.police_row(p, station, "CHG", day, "15:30", &custody, offence, Some((bail, court, first)), None);
    f.police_row(p, station, "BAIL", day, "15:35", &custody, None, Some((bail, court, first)), None);

    // Court: first hearing, then perhaps a PSR, a trial, and a sentence.
    let adjourn = |next: NaiveDate, reason: &str| {
        format!("    <Adjournment nextDate=\"{next}\" nextCourt=\"{court}\" reason=\"{reason}\" remand=\"UB\"/>\n")
    };
    let plea_roll = rng.below(100);
    let mut sentence_day = first;
    let mut convicted = true;
    if plea_roll < 60 {
        if rng.chance(40) {
            // Sentenced at the first hearing.
        } else {
            let next = first + Duration::days(rng.range(14, 28));
            f.court.entry((first, court)).or_default().push(case_xml(
                p,
                &urn,
                first,
                "FIRST",
                None,
                true,
                Some("G"),
                true,
                "ADJOURNED",
                &adjourn(next, "PSR"),
            ));
            f.probation_event(
                p,
                first,
                "psr.requested",
                format!("\"court\": \"{court}\", \"requestedDate\": \"{first}\""),
            );
            let done = first + Duration::days(rng.range(7, 13));
            f.probation_event(
                p,
                done,
                "psr.completed",
                format!("\"court\": \"{court}\", \"requestedDate\": \"{first}\", \"completedDate\": \"{done}\""),
            );
            sentence_day = next;
        }
    } else {
        let trial_day = first + Duration::days(rng.range(30, 60));
        f.court.entry((first, court)).or_default().push(case_xml(
            p,
            &urn,
            first,
            "FIRST",
            None,
            true,
            Some("NG"),
            false,
            "ADJOURNED",
            &adjourn(trial_day, "TRIAL"),
        ));
        let status = *rng.pick(&["EFFECTIVE", "EFFECTIVE", "CRACKED", "INEFFECTIVE"]);
        sentence_day = trial_day;
        match status {
            "INEFFECTIVE" => {
                let again = trial_day + Duration::days(rng.range(14, 28));
                f.court.entry((trial_day, court)).or_default().push(case_xml(
                    p,
                    &urn,
                    trial_day,
                    "TRIAL",
                    Some("INEFFECTIVE"),
                    true,
                    None,
                    false,
                    "ADJOURNED",
                    &adjourn(again, "COURT"),
                ));
                sentence_day = again;
            }
            "EFFECTIVE" if rng.chance(30) => {
                f.court.entry((trial_day, court)).or_default().push(case_xml(
                    p,
                    &urn,
                    trial_day,
                    "TRIAL",
                    Some("EFFECTIVE"),
                    true,
                    Some("NG"),
                    false,
                    "ACQUITTED",
                    "",
                ));
                convicted = false;
            }
            _ => {}
        }
    }
    if !convicted || sentence_day > end {
        return;
    }
    let order = *rng.pick(&["CO", "CO", "CO", "SSO", "FINE", "FINE", "CD", "CUSTODY"]);
    let mut reqs: Vec<(&str, String)> = Vec::new();
    if matches!(order, "CO" | "SSO") {
        if rng.chance(60) {
            reqs.push(("UPW", format!("hours=\"{}\"", rng.range(4, 20) * 10)));
        }
        if rng.chance(40) {
            reqs.push(("RAR", format!("days=\"{}\"", rng.range(5, 30))));
        }
        if rng.chance(35) {
            reqs.push(("DRR", "months=\"6\"".into()));
        }
        if rng.chance(10) {
            reqs.push(("ATR", "months=\"6\"".into()));
        }
        if reqs.is_empty() {
            reqs.push(("CURFEW", "months=\"3\"".into()));
        }
    }
    let length = if matches!(order, "CO" | "SSO" | "CD") { Some(rng.range(6, 18)) } else { None };
    let mut sentence = format!(
        "    <Sentence>\n      <Order type=\"{order}\"{}{}/>\n",
        length.map(|m| format!(" lengthMonths=\"{m}\"")).unwrap_or_default(),
        if order == "FINE" { format!(" amount=\"{}.00\"", rng.range(5, 50) * 10) } else { String::new() }
    );
    for (t, attr) in &reqs {
        let _ = writeln!(sentence, "      <Requirement type=\"{t}\" {attr}/>");
    }
    let drr = reqs.iter().any(|(t, _)| *t == "DRR" || *t == "ATR");
    if drr {
        let _ = writeln!(sentence, "      <ReviewDate>{}</ReviewDate>", d(sentence_day + Duration::days(28)));
    }
    sentence.push_str("    </Sentence>\n");
    let hearing = if sentence_day == first { "FIRST" } else { "SENTENCE" };
    f.court.entry((sentence_day, court)).or_default().push(case_xml(
        p,
        &urn,
        sentence_day,
        hearing,
        None,
        true,
        Some("G"),
        true,
        "SENTENCED",
        &sentence,
    ));
    if drr {
        review_hearings(f, rng, p, &urn, court, sentence_day, end);
    }
    if !matches!(order, "CO" | "SSO") {
        return;
    }
    // Supervision: appointments every two weeks; two failures bring a breach.
    let start = sentence_day + Duration::days(rng.range(1, 7));
    let order_id = format!("{}{j}", 2_700_000 + p.n % 100_000);
    let req_json: Vec<String> = reqs
        .iter()
        .map(|(t, a)| {
            let (k, v) = a.split_once('=').unwrap_or(("months", "\"3\""));
            format!("{{\"type\": \"{t}\", \"{k}\": {}}}", v.trim_matches('"'))
        })
        .collect();
    f.probation_event(p, start, "supervision.started", format!(
        "\"orderId\": \"{order_id}\", \"orderType\": \"{order}\", \"court\": \"{court}\", \"startDate\": \"{start}\", \"lengthMonths\": {}, \"requirements\": [{}], \"officer\": {{\"code\": \"N{:04}\", \"name\": \"Officer\"}}, \"team\": \"Team {}\"",
        length.unwrap_or(12), req_json.join(", "), p.n % 900, p.n % 7));
    if rng.chance(10) {
        f.probation_event(p, start, "registration.added", format!("\"registerTypeCode\": \"RHRH\", \"registerTypeDescription\": \"High RoSH\", \"registrationDate\": \"{start}\""));
    }
    // Some people are arrested again while on the order (and released without charge), and some
    // orders end early — sometimes before that arrest. Whether probation hears of the arrest
    // (agreement A2: an active order) depends on both, whatever order the feeds deliver them in.
    let station_again = *rng.pick(stations);
    let ended_early = rng.chance(45).then(|| start + Duration::days(rng.range(2, 20)));
    if let Some(ended) = ended_early.filter(|ended| *ended <= end) {
        let reason = *rng.pick(&["REVOKED", "TRANSFERRED"]);
        f.probation_event(
            p,
            ended,
            "order.terminated",
            format!("\"orderId\": \"{order_id}\", \"terminationDate\": \"{ended}\", \"reason\": \"{reason}\""),
        );
    }
    if rng.chance(60) {
        let at = match ended_early {
            Some(ended) if rng.chance(60) => ended + Duration::days(rng.range(1, 10)),
            _ => start + Duration::days(rng.range(1, 30)),
        };
        if at <= end {
            let custody = format!("{station_again}/26/R{:05}", detention_serial(p, j));
            let offence = Some(("CJ88116", "Possessed a bladed article", at));
            f.police_row(p, station_again, "ARR", at, "19:40", &custody, offence, None, None);
            f.police_row(p, station_again, "NFA", at, "23:10", &custody, None, None, None);
        }
    }
    let until = (start + Duration::days(length.unwrap_or(12) * 30)).min(end).min(ended_early.unwrap_or(end));
    let mut failures = 0;
    let mut appt = start + Duration::days(14);
    while appt <= until {
        let upw = reqs.iter().any(|(t, _)| *t == "UPW") && rng.chance(50);
        let attended = rng.chance(85);
        f.probation_event(p, appt, "appointment.outcome", format!(
            "\"orderId\": \"{order_id}\", \"appointmentType\": \"{}\", \"appointmentDate\": \"{appt}\", \"attended\": {attended}, \"complied\": {attended}, \"enforceable\": {}, \"outcomeCode\": \"{}\"{}",
            if upw { "UPW" } else { "OFFICE" }, !attended, if attended { "ATTC" } else { "AFTC" },
            if upw && attended { format!(", \"hoursWorked\": {}", rng.range(3, 7)) } else { String::new() }));
        if !attended {
            failures += 1;
        }
        if failures == 2 {
            let hearing = appt + Duration::days(rng.range(7, 14));
            f.probation_event(p, appt + Duration::days(1), "breach.initiated", format!(
                "\"orderId\": \"{order_id}\", \"court\": \"{court}\", \"breachDate\": \"{}\", \"failuresToComply\": 2, \"reason\": \"Two failures to attend\"", appt + Duration::days(1)));
            if hearing <= end {
                if rng.chance(50) {
                    f.court.entry((hearing, court)).or_default().push(case_xml(
                        p,
                        &format!("{urn}B"),
                        hearing,
                        "BREACH",
                        None,
                        false,
                        None,
                        false,
                        "WARRANT",
                        "    <Warrant type=\"NO_BAIL\" reason=\"BREACH\"/>\n",
                    ));
                    let arrest = hearing + Duration::days(rng.range(1, 10));
                    if arrest <= end {
                        let wex = format!("{station}/26/W{:05}", detention_serial(p, j));
                        f.police_row(
                            p,
                            station,
                            "WEX",
                            arrest,
                            "07:50",
                            &wex,
                            None,
                            Some(("RIC", court, arrest + Duration::days(1))),
                            None,
                        );
                        f.police_row(
                            p,
                            station,
                            "BAIL",
                            arrest,
                            "08:20",
                            &wex,
                            None,
                            Some(("RIC", court, arrest + Duration::days(1))),
                            None,
                        );
                    }
                } else {
                    f.court.entry((hearing, court)).or_default().push(case_xml(
                        p,
                        &format!("{urn}B"),
                        hearing,
                        "BREACH",
                        None,
                        true,
                        Some("G"),
                        true,
                        "ADJOURNED",
                        &adjourn(hearing + Duration::days(14), "REVIEW"),
                    ));
                }
            }
            break;
        }
        appt += Duration::days(14);
    }
    if ended_early.is_none() && start + Duration::days(length.unwrap_or(12) * 30) <= end && failures < 2 {
        let done = start + Duration::days(length.unwrap_or(12) * 30);
        f.probation_event(
            p,
            done,
            "order.terminated",
            format!("\"orderId\": \"{order_id}\", \"terminationDate\": \"{done}\", \"reason\": \"COMPLETED\""),
        );
    }
    if drr {
        // Treatment: referral, consent, triage, start, weekly tests.
        let refd = sentence_day + Duration::days(rng.range(1, 5));
        f.treatment_record(p, refd, "EP", format!("REF{}DR", refd.format("%Y%m%d")));
        let consent = if rng.chance(80) { "G" } else { "R" };
        let expiry =
            if consent == "G" { (refd + Duration::days(180)).format("%Y%m%d").to_string() } else { String::new() };
        f.treatment_record(p, refd, "CN", format!("{consent}ALL{}{expiry}", refd.format("%Y%m%d")));
        let tri = refd + Duration::days(rng.range(1, 3));
        f.treatment_record(p, tri, "EP", format!("TRI{}DR", tri.format("%Y%m%d")));
        let sta = tri + Duration::days(rng.range(1, 5));
        f.treatment_record(p, sta, "EP", format!("STA{}DR  PSY", sta.format("%Y%m%d")));
        let mut test = sta + Duration::days(3);
        let stop = (sta + Duration::days(180)).min(end);
        while test <= stop {
            let r = |rng: &mut Rng, pct| if rng.chance(pct) { 'P' } else { 'N' };
            let (op, co, ca) = (r(rng, 30), r(rng, 20), r(rng, 40));
            f.treatment_record(p, test, "TR", format!("{}1000U{op}{co}X{ca}XN", test.format("%Y%m%d")));
            test += Duration::days(7);
        }
        if rng.chance(30) && stop < end {
            let reason = *rng.pick(&["PC", "DO", "IP"]);
            f.treatment_record(p, stop, "EP", format!("DIS{}DR{reason}PSY", stop.format("%Y%m%d")));
        }
    }
}

//! `tracker demo generate`: realistic legacy feeds for all four agencies — people arrested,
//! charged and bailed, heard (adjourned, tried: effective, cracked, ineffective), sentenced to
//! orders with requirements, supervised (appointments, breaches, warrants), treated (referrals,
//! consents, drug tests) — written in the agencies' own formats with a few bad rows, and a send
//! plan (`expected.json` → `send`) in the order they were produced, so `tracker demo --samples DIR`
//! puts them through the real connectors. Deterministic for a seed.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{Duration, NaiveDate};

const CHECK_LETTERS: &[u8; 23] = b"ZABCDEFGHJKLMNPQRTUVWXY";

/// The generator's random source: fastrand's seeded generator (the same seed gives the same
/// files), with the few draws the generator makes.
pub(crate) struct Rng(fastrand::Rng);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(fastrand::Rng::with_seed(seed))
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0.u64(..n.max(1))
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        self.0.i64(lo..=hi.max(lo))
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.0.usize(..items.len())]
    }
}

struct Person {
    n: usize,
    pnc: String,
    cro: Option<String>,
    crn: String,
    client: String,
    nhs: String,
    surname: String,
    forename: String,
    dob: NaiveDate,
    sex: &'static str,
    force: &'static str,
}

fn pnc(n: usize) -> String {
    let yy = 2000 + n % 25;
    let serial = (n * 7919) % 10_000_000;
    let number = (yy % 100) as u64 * 10_000_000 + serial as u64;
    format!("{yy}/{serial:07}{}", CHECK_LETTERS[(number % 23) as usize] as char)
}

fn cro(n: usize) -> String {
    let yy = 10 + n % 15;
    let serial = (n * 104_729) % 1_000_000;
    let number = yy as u64 * 1_000_000 + serial as u64;
    format!("{serial:06}/{yy:02}{}", CHECK_LETTERS[(number % 23) as usize] as char)
}

/// A valid NHS number (modulus 11), or the next one that is.
fn nhs(n: usize) -> String {
    let mut base = 400_000_000 + (n as u64 * 7_321) % 500_000_000;
    loop {
        let digits: Vec<u64> = format!("{base:09}").bytes().map(|b| u64::from(b - b'0')).collect();
        let sum: u64 = digits.iter().zip((2..=10).rev()).map(|(d, w)| d * w).sum();
        let check = 11 - sum % 11;
        if check != 10 {
            return format!("{base:09}{}", if check == 11 { 0 } else { check });
        }
        base += 1;
    }
}

const SURNAMES: [&str; 12] = [
    "SMITH",
    "JONES",
    "TAYLOR",
    "BROWN",
    "WILLIAMS",
    "O'NEILL",
    "KHAN",
    "NOWAK",
    "MURPHY",
    "DAVIES",
    "EVANS",
    "BÉLANGER",
];
const FORENAMES: [&str; 12] =
    ["James", "Sarah", "Mohammed", "Emma", "Liam", "Chloë", "Olivia", "Jack", "Aoife", "Noah", "Zofia", "Ryan"];

/// Everything generated, by file: (produced at, agency, connector, file name, body).
#[derive(Default)]
struct Feeds {
    police: BTreeMap<(NaiveDate, &'static str), Vec<(String, String)>>,
    court: BTreeMap<(NaiveDate, &'static str), Vec<String>>,
    probation: Vec<(NaiveDate, String, String)>,
    treatment: BTreeMap<NaiveDate, Vec<String>>,
}

/// The arrest/summons number of a custody record (or case).
fn asn(urn: &str) -> String {
    format!("{urn}A")
}

fn d(date: NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

impl Feeds {
    #[allow(clippy::too_many_arguments)]
    fn police_row(
        &mut self,
        p: &Person,
        station: &'static str,
        kind: &str,
        date: NaiveDate,
        time: &str,
        custody: &str,
        offence: Option<(&str, &str, NaiveDate)>,
        bail: Option<(&str, &str, NaiveDate)>,
        dt: Option<(&str, &str)>,
    ) {
        let (code, wording, odate) =
            offence.map_or((String::new(), String::new(), String::new()), |(c, w, o)| (c.into(), w.into(), d(o)));
        let (status, court, cdate) =
            bail.map_or((String::new(), String::new(), String::new()), |(s, c, n)| (s.into(), c.into(), d(n)));
        let (op, co) = dt.map_or((String::new(), String::new()), |(a, b)| (a.into(), b.into()));
        let row = format!(
            "{kind},{custody},{station},{},{time},{},{},{},{},{},{},{},W1,{},L1 1AA,{code},{},{odate},{status},,{court},{cdate},{op},{co},{}\r\n",
            d(date),
            p.pnc,
            p.cro.clone().unwrap_or_default(),
            asn(&custody.replace('/', "")),
            csv_field(&p.surname),
            csv_field(&p.forename),
            p.dob.format("%d/%m/%Y"),
            p.sex,
            csv_field(&format!("{} Long Road, Liverpool", p.n % 200 + 1)),
            csv_field(wording.as_str()),
            4000 + p.n % 900
        );
        self.police.entry((date, station)).or_default().push((format!("{time}{kind}"), row));
    }

    fn probation_event(&mut self, p: &Person, date: NaiveDate, kind: &str, info: String) {
        let body = format!(
            "{{\"eventType\": \"probation-case.{kind}\", \"version\": 1, \"occurredAt\": \"{}T10:00:00+00:00\",\n \"personReference\": {{\"identifiers\": [{{\"type\": \"CRN\", \"value\": \"{}\"}}, {{\"type\": \"PNC\", \"value\": \"{}\"}}]}},\n \"additionalInformation\": {{{info}}}}}\n",
            date, p.crn, p.pnc
        );
        self.probation.push((date, kind.to_string(), body));
    }

    fn treatment_record(&mut self, p: &Person, date: NaiveDate, kind: &str, tail: String) {
        let line = format!(
            "{kind}{:<10}{:<10}{:<7}{:<13}{:<30}{:<20}{}{tail}\r\n",
            p.client,
            p.nhs,
            p.crn,
            p.pnc,
            p.surname,
            p.forename.to_uppercase(),
            p.dob.format("%Y%m%d")
        );
        self.treatment.entry(date).or_default().push(line);
    }
}

/// A court case's result as an XML `Case`.
#[allow(clippy::too_many_arguments)]
fn case_xml(
    p: &Person,
    urn: &str,
    date: NaiveDate,
    hearing: &str,
    trial: Option<&str>,
    present: bool,
    plea: Option<&str>,
    verdict: bool,
    outcome: &str,
    tail: &str,
) -> String {
    let mut x = format!(
        "  <Case urn=\"{urn}\" caseNo=\"{}\">\n    <Defendant><Name><Title>Mx</Title><Forename1>{}</Forename1><Surname>{}</Surname></Name><DOB>{}</DOB><Sex>{}</Sex>\n      <Address><Line1>{} Long Road</Line1><Town>Liverpool</Town><Postcode>L1 1AA</Postcode></Address><PNC>{}</PNC><ASN>{}</ASN></Defendant>\n",
        &urn[urn.len() - 6..],
        crate::html::esc(&p.forename),
        crate::html::esc(&p.surname),
        p.dob.format("%d/%m/%Y"),
        p.sex,
        p.n % 200 + 1,
        p.pnc,
        asn(urn)
    );
    let _ = writeln!(
        x,
        "    <Hearing date=\"{date}\" type=\"{hearing}\"{} present=\"{}\"/>",
        trial.map(|t| format!(" trialStatus=\"{t}\"")).unwrap_or_default(),
        if present { "Y" } else { "N" }
    );
    let _ = writeln!(
        x,
        "    <Offence seq=\"1\" code=\"TH68010\" date=\"{}\"><Title>Theft from a shop</Title>{}{}<Result code=\"1000\">Result</Result></Offence>",
        date - Duration::days(7),
        plea.map(|pl| format!("<Plea>{pl}</Plea>")).unwrap_or_default(),
        if verdict {
            format!("<Verdict>G</Verdict><ConvictionDate>{}</ConvictionDate>", d(date))
        } else {
            String::new()
        }
    );
    let _ = writeln!(x, "    <Outcome>{outcome}</Outcome>\n{tail}  </Case>");
    x
}

/// Reviews of a drug rehabilitation (or alcohol treatment) requirement every four weeks for up to
/// three months, each adjourned to the next; one in ten scheduled is not held.
fn review_hearings(
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

/// Generates feeds for `people` over `months` from 2026-01-01 into `out`; returns the number of
/// payloads written.
pub fn generate(people: usize, months: u32, seed: u64, out: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(out)?;
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let end = start + Duration::days(i64::from(months) * 30);
    let mut feeds = Feeds::default();
    let mut people_made = Vec::with_capacity(people);
    for n in 0..people {
        let mut rng = Rng::new(seed ^ (n as u64).wrapping_mul(0x0100_0000_01b3));
        let force = if rng.chance(70) { "05" } else { "13" };
        let p = Person {
            n,
            pnc: pnc(n + 1),
            cro: rng.chance(50).then(|| cro(n + 1)),
            crn: format!("G{:06}", n % 1_000_000),
            client: format!("GEN{:07}", n),
            nhs: nhs(n),
            surname: rng.pick(&SURNAMES).to_string(),
            forename: rng.pick(&FORENAMES).to_string(),
            dob: start - Duration::days(rng.range(18 * 365, 60 * 365)),
            sex: if rng.chance(80) { "M" } else { "F" },
            force,
        };
        let offences = 1 + rng.below(2);
        let mut day = start + Duration::days(rng.range(0, 60));
        for j in 0..offences {
            if day + Duration::days(30) > end {
                break;
            }
            person_offence(&mut feeds, &mut rng, &p, j as usize, day, end);
            day += Duration::days(rng.range(60, 150));
        }
        people_made.push(p);
    }
    bridging_records(&mut feeds, &people_made, start, end);
    write_feeds(feeds, out)
}

/// A few records per hundred people that pair one person's identifiers with another's: a
/// probation risk registration for one person carrying the CRO the police gave the next person.
/// Whichever arrives first, the hub must hold it as a conflict (the police issue CROs, and their
/// records give this one to someone else).
fn bridging_records(f: &mut Feeds, people: &[Person], start: NaiveDate, end: NaiveDate) {
    for pair in people.windows(2).filter(|w| w[0].n % 33 == 7) {
        let (p, other) = (&pair[0], &pair[1]);
        let Some(cro) = &other.cro else { continue };
        let date = start + Duration::days(20 + (p.n % 40) as i64);
        if date > end {
            continue;
        }
        let body = format!(
            "{{\"eventType\": \"probation-case.registration.added\", \"version\": 1, \"occurredAt\": \"{date}T10:00:00+00:00\",\n \"personReference\": {{\"identifiers\": [{{\"type\": \"CRN\", \"value\": \"{}\"}}, {{\"type\": \"PNC\", \"value\": \"{}\"}}, {{\"type\": \"CRO\", \"value\": \"{cro}\"}}]}},\n \"additionalInformation\": {{\"registerTypeCode\": \"RHRH\", \"registerTypeDescription\": \"High RoSH\", \"registrationDate\": \"{date}\"}}}}\n",
            p.crn, p.pnc
        );
        f.probation.push((date, "registration.added".to_string(), body));
    }
}

fn person_offence(f: &mut Feeds, rng: &mut Rng, p: &Person, j: usize, day: NaiveDate, end: NaiveDate) {
    let stations: &[&'static str] = if p.force == "05" { &["05CL", "05AN"] } else { &["13BD"] };
    let station = *rng.pick(stations);
    let courts: &[&'static str] = if p.force == "05" { &["B05LV00", "B05LP00"] } else { &["B13BD00"] };
    let court = *rng.pick(courts);
    let custody = format!("{station}/26/{:06}", (p.n * 3 + j) % 1_000_000);
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
            let custody = format!("{station_again}/26/R{:05}", (p.n * 3 + j) % 100_000);
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
                        let wex = format!("{station}/26/W{:05}", (p.n * 3 + j) % 100_000);
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

fn write_feeds(f: Feeds, out: &Path) -> anyhow::Result<usize> {
    // (produced at, agency, connector, file)
    let mut plan: Vec<(String, String, String, String)> = Vec::new();
    let header = "RecordType,CustodyRef,ForceStation,EventDate,EventTime,PNCID,CRO,ASN,Surname,Forenames,DOB,Sex,Ethnicity,Address,Postcode,OffenceCode,OffenceWording,OffenceDate,BailStatus,BailConditions,NextCourtCode,NextCourtDate,DT1Opiates,DT1Cocaine,OfficerRef\r\n";
    let mut row_no = 0usize;
    for ((date, station), mut rows) in f.police {
        rows.sort();
        let mut body = String::from(header);
        for (_, row) in &rows {
            row_no += 1;
            // About one row in a hundred arrives with an impossible date, as real exports do.
            if row_no % 97 == 13 {
                body.push_str(&row.replacen(&format!(",{},", d(date)), &format!(",31/02/{},", date.format("%Y")), 1));
            } else {
                body.push_str(row);
            }
        }
        let name = format!("police-custody-{station}-{}-2300.csv", date.format("%Y%m%d"));
        std::fs::write(out.join(&name), body)?;
        let agency = if station.starts_with("05") { "police-05" } else { "police-13" };
        plan.push((format!("{date} 23:00 a"), agency.into(), "police-custody".into(), name));
    }
    for ((date, court), cases) in f.court {
        let mut body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ResultsBatch xmlns=\"urn:libra:results:2\" court=\"{court}\" courtName=\"{court}\" sittingDate=\"{date}\" batchId=\"{court}-{}-01\">\n",
            date.format("%Y%m%d")
        );
        for c in cases {
            body.push_str(&c);
        }
        body.push_str("</ResultsBatch>\n");
        let name = format!("court-results-{court}-{}.xml", date.format("%Y%m%d"));
        std::fs::write(out.join(&name), body)?;
        plan.push((format!("{date} 18:00"), format!("court-{}", court.to_lowercase()), "court-results".into(), name));
    }
    for (i, (date, kind, body)) in f.probation.into_iter().enumerate() {
        let name = format!("probation-{i:07}-{kind}.json");
        std::fs::write(out.join(&name), body)?;
        plan.push((format!("{date} 12:00 {i:07}"), "probation".into(), "probation-events".into(), name));
    }
    for (seq, (date, records)) in f.treatment.into_iter().enumerate() {
        let mut body = format!("HDMERSDRG1{}{:06}\r\n", date.format("%Y%m%d"), seq + 1);
        for r in &records {
            body.push_str(r);
        }
        let _ = write!(body, "TL{:08}\r\n", records.len());
        let name = format!("treatment-MERSDRG1-{}-{:06}.dat", date.format("%Y%m%d"), seq + 1);
        let (encoded, _, _) = encoding_rs::WINDOWS_1252.encode(&body);
        std::fs::write(out.join(&name), encoded)?;
        plan.push((format!("{date} 23:30"), "treatment".into(), "treatment-records".into(), name));
    }
    plan.sort();
    let send: Vec<serde_json::Value> = plan
        .iter()
        .map(|(_, agency, connector, file)| serde_json::json!({"file": file, "agency": agency, "connector": connector}))
        .collect();
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&serde_json::json!({"send": send}))? + "\n",
    )?;
    Ok(plan.len())
}

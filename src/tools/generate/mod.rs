//! `tracker demo generate`: realistic legacy feeds for all four agencies — people arrested,
//! charged and bailed, heard (adjourned, tried: effective, cracked, ineffective), sentenced to
//! orders with requirements, supervised (appointments, breaches, warrants), treated (referrals,
//! consents, drug tests) — written in the agencies' own formats with a few bad rows, and a send
//! plan (`expected.json` → `send`) in the order they were produced, so `tracker demo --samples DIR`
//! puts them through the real connectors. Deterministic for a seed.
mod feeds;
mod lives;
mod people;

use std::fmt::Write as _;
use std::path::Path;

use chrono::{Duration, NaiveDate};

use feeds::*;
use lives::*;
pub(crate) use people::Rng;
use people::*;

/// Generates feeds for `people` over `months` from 2026-01-01 into `out`; returns the number of
/// payloads written.
pub fn generate(people: usize, months: u32, seed: u64, out: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(out)?;
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let end = start + Duration::days(i64::from(months) * 30);
    let mut feeds = Feeds::default();
    let mut people_made = Vec::with_capacity(people);
    let mut progress = crate::tools::progress::Progress::new("generating", "people", people);
    for n in 0..people {
        progress.tick(n, None);
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
        let mut j = 0;
        while j < offences && day + Duration::days(30) <= end {
            person_offence(&mut feeds, &mut rng, &p, j as usize, day, end);
            day += Duration::days(rng.range(60, 150));
            j += 1;
        }
        // Over years, most of them come back: a history of a decade for some. (A period of a year
        // or less generates exactly what it always did: the draws below are never made.)
        while months > 12 && day + Duration::days(30) <= end && rng.chance(80) {
            person_offence(&mut feeds, &mut rng, &p, j as usize, day, end);
            day += Duration::days(rng.range(150, 400));
            j += 1;
        }
        people_made.push(p);
    }
    bridging_records(&mut feeds, &people_made, start, end);
    if months > 12 {
        busy_sitting(&mut feeds, &people_made, end - Duration::days(30));
    }
    write_feeds(feeds, out)
}

/// The defendants answering summonses at one sitting of the Liverpool court: a busy day's list
/// (up to 220 people, more than any ordinary day of the generated traffic), each case adjourned
/// four weeks. Only over periods of more than a year, so a year's traffic is unchanged.
fn busy_sitting(f: &mut Feeds, people: &[Person], day: NaiveDate) {
    const COURT: &str = "B05LV00";
    for p in people.iter().filter(|p| p.force == "05").take(220) {
        let urn = format!("05SU{}{:06}", day.format("%y"), p.n % 1_000_000);
        let tail = format!(
            "    <Adjournment nextDate=\"{}\" nextCourt=\"{COURT}\" reason=\"COURT\" remand=\"UB\"/>\n",
            day + Duration::days(28)
        );
        f.court.entry((day, COURT)).or_default().push(case_xml(
            p,
            &urn,
            day,
            "FIRST",
            None,
            true,
            Some("NG"),
            false,
            "ADJOURNED",
            &tail,
        ));
    }
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

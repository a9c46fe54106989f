//! The four agencies' feeds being written: custody rows, court cases, probation events and
//! treatment records, each in its agency's own format.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Duration, NaiveDate};

use super::people::*;

/// Everything generated, by file: (produced at, agency, connector, file name, body).
#[derive(Default)]
pub(super) struct Feeds {
    pub(super) police: BTreeMap<(NaiveDate, &'static str), Vec<(String, String)>>,
    pub(super) court: BTreeMap<(NaiveDate, &'static str), Vec<String>>,
    pub(super) probation: Vec<(NaiveDate, String, String)>,
    pub(super) treatment: BTreeMap<NaiveDate, Vec<String>>,
}

/// The arrest/summons number of a custody record (or case).
pub(super) fn asn(urn: &str) -> String {
    format!("{urn}A")
}

pub(super) fn d(date: NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

pub(super) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

impl Feeds {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn police_row(
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

    pub(super) fn probation_event(&mut self, p: &Person, date: NaiveDate, kind: &str, info: String) {
        let body = format!(
            "{{\"eventType\": \"probation-case.{kind}\", \"version\": 1, \"occurredAt\": \"{}T10:00:00+00:00\",\n \"personReference\": {{\"identifiers\": [{{\"type\": \"CRN\", \"value\": \"{}\"}}, {{\"type\": \"PNC\", \"value\": \"{}\"}}]}},\n \"additionalInformation\": {{{info}}}}}\n",
            date, p.crn, p.pnc
        );
        self.probation.push((date, kind.to_string(), body));
    }

    pub(super) fn treatment_record(&mut self, p: &Person, date: NaiveDate, kind: &str, tail: String) {
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

#[allow(clippy::too_many_arguments)]
pub(super) fn case_xml(
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

//! Person identifiers (PNC, CRO, CRN, NOMS, treatment client id, NHS number): each scheme's
//! normal form and check. An identifier is only ever built valid; one that fails its check is
//! reported with the reason and never used to link a person.
use std::fmt;

use serde::{Deserialize, Serialize};

/// The identifier schemes the person index links on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scheme {
    #[serde(rename = "PNC")]
    Pnc,
    #[serde(rename = "CRO")]
    Cro,
    #[serde(rename = "CRN")]
    Crn,
    #[serde(rename = "NOMS")]
    Noms,
    #[serde(rename = "TREATMENT")]
    TreatmentClient,
    #[serde(rename = "NHS")]
    Nhs,
}

impl Scheme {
    pub const ALL: [Scheme; 6] =
        [Scheme::Pnc, Scheme::Cro, Scheme::Crn, Scheme::Noms, Scheme::TreatmentClient, Scheme::Nhs];

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Pnc => "PNC",
            Scheme::Cro => "CRO",
            Scheme::Crn => "CRN",
            Scheme::Noms => "NOMS",
            Scheme::TreatmentClient => "TREATMENT",
            Scheme::Nhs => "NHS",
        }
    }

    pub fn parse(name: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(name))
    }

    /// Health identifiers reveal that a person is in treatment.
    pub fn is_health(self) -> bool {
        matches!(self, Scheme::TreatmentClient | Scheme::Nhs)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checked identifier in its normal form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    scheme: Scheme,
    value: String,
}

/// Why an identifier was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scheme} {value:?}: {reason}")]
pub struct IdentifierError {
    pub scheme: Scheme,
    pub value: String,
    pub reason: String,
}

const CHECK_LETTERS: &[u8; 23] = b"ZABCDEFGHJKLMNPQRTUVWXY";

impl Identifier {
    /// Parses `value` under `scheme`, normalising its written form and verifying its check.
    pub fn parse(scheme: Scheme, value: &str) -> Result<Identifier, IdentifierError> {
        let raw = value.trim();
        let fail = |reason: &str| IdentifierError { scheme, value: raw.to_string(), reason: reason.to_string() };
        let value = match scheme {
            Scheme::Pnc => normalise_pnc(raw).map_err(|r| fail(&r))?,
            Scheme::Cro => normalise_cro(raw).map_err(|r| fail(&r))?,
            Scheme::Nhs => check_nhs(raw).map_err(|r| fail(&r))?,
            Scheme::Crn => {
                let ok = raw.len() == 7
                    && raw.as_bytes()[0].is_ascii_alphabetic()
                    && raw[1..].bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    return Err(fail("a CRN is a letter and 6 digits"));
                }
                raw.to_ascii_uppercase()
            }
            Scheme::Noms => {
                let b = raw.as_bytes();
                let ok = b.len() == 7
                    && b[0].is_ascii_alphabetic()
                    && b[1..5].iter().all(u8::is_ascii_digit)
                    && b[5..].iter().all(u8::is_ascii_alphabetic);
                if !ok {
                    return Err(fail("a NOMS number is A1234BC"));
                }
                raw.to_ascii_uppercase()
            }
            Scheme::TreatmentClient => {
                if raw.is_empty() || raw.len() > 20 || !raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(fail("a treatment client id is 1-20 letters and digits"));
                }
                raw.to_string()
            }
        };
        Ok(Identifier { scheme, value })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme, self.value)
    }
}

fn check_letter(number: u64) -> char {
    CHECK_LETTERS[(number % 23) as usize] as char
}

/// PNC `yyyy/nnnnnnnC`, also written without the slash or with a two-digit year.
fn normalise_pnc(raw: &str) -> Result<String, String> {
    let compact: String = raw.chars().filter(|c| *c != '/').collect::<String>().to_ascii_uppercase();
    // Checked first: the positions below are byte offsets (found by fuzzing: a non-ASCII
    // character at offset 6 panicked).
    if !compact.is_ascii() {
        return Err("a PNC id is yyyy/nnnnnnnC".into());
    }
    let (year, rest) = match compact.len() {
        12 => (compact[..4].to_string(), &compact[4..]),
        10 => {
            let yy: u32 = compact[..2].parse().map_err(|_| "the year is not digits".to_string())?;
            // A two-digit year: PNC ids began in the 1970s, so 70-99 are 19xx.
            let century = if yy >= 70 { "19" } else { "20" };
            (format!("{century}{:02}", yy), &compact[2..])
        }
        _ => return Err("a PNC id is yyyy/nnnnnnnC".into()),
    };
    let digits = &rest[..7];
    let letter = rest.as_bytes()[7] as char;
    if !year.bytes().all(|b| b.is_ascii_digit()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a PNC id is yyyy/nnnnnnnC".into());
    }
    let number: u64 = format!("{}{}", &year[2..], digits).parse().map_err(|_| "not a number".to_string())?;
    let expected = check_letter(number);
    if letter != expected {
        return Err(format!("check letter is {letter}, expected {expected}"));
    }
    Ok(format!("{year}/{digits}{letter}"))
}

/// CRO `nnnnnn/yyC` (serial padded to 6) or `SFyy/nnnnnnC`.
fn normalise_cro(raw: &str) -> Result<String, String> {
    let up = raw.to_ascii_uppercase();
    let bad = || "a CRO number is nnnnnn/yyC or SFyy/nnnnnnC".to_string();
    if !up.is_ascii() {
        return Err(bad());
    }
    let (yy, serial, letter, sf) = if let Some(rest) = up.strip_prefix("SF") {
        let (yy, tail) = rest.split_once('/').ok_or_else(bad)?;
        if tail.len() < 2 {
            return Err(bad());
        }
        let (serial, letter) = tail.split_at(tail.len() - 1);
        (yy.to_string(), serial.to_string(), letter.to_string(), true)
    } else {
        let (serial, tail) = up.split_once('/').ok_or_else(bad)?;
        if tail.len() != 3 {
            return Err(bad());
        }
        (tail[..2].to_string(), serial.to_string(), tail[2..].to_string(), false)
    };
    if yy.len() != 2
        || !yy.bytes().all(|b| b.is_ascii_digit())
        || serial.is_empty()
        || serial.len() > 6
        || !serial.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let serial = format!("{serial:0>6}");
    let number: u64 = format!("{yy}{serial}").parse().map_err(|_| bad())?;
    let expected = check_letter(number);
    let letter = letter.chars().next().ok_or_else(bad)?;
    if letter != expected {
        return Err(format!("check letter is {letter}, expected {expected}"));
    }
    Ok(if sf { format!("SF{yy}/{serial}{letter}") } else { format!("{serial}/{yy}{letter}") })
}

/// NHS number: 10 digits, modulus 11 check digit.
fn check_nhs(raw: &str) -> Result<String, String> {
    let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an NHS number is 10 digits".into());
    }
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return Err("check digit would be 10: never a valid NHS number".into()),
        c => c,
    };
    if check != d[9] {
        return Err(format!("check digit is {}, expected {check}", d[9]));
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_identifiers_are_refused_not_sliced() {
        // Regressions from fuzzing the police connector: byte slicing inside a character.
        for raw in ["2019/00˷12345G", "201900˷12345G", "19˷0012345G", "0123˷5/19R", "012345/1˷", "SF19/1˷"] {
            for scheme in [Scheme::Pnc, Scheme::Cro] {
                assert!(Identifier::parse(scheme, raw).is_err(), "{scheme:?} {raw}");
            }
        }
    }

    #[test]
    fn pnc_forms_normalise_and_check() {
        for written in ["2019/0012345G", "20190012345G", "19/0012345G", "190012345g"] {
            let id = Identifier::parse(Scheme::Pnc, written).expect(written);
            assert_eq!(id.value(), "2019/0012345G");
        }
        let err = Identifier::parse(Scheme::Pnc, "2019/0012345H").unwrap_err();
        assert!(err.reason.contains("expected G"), "{err}");
        assert!(Identifier::parse(Scheme::Pnc, "2019/001234G").is_err());
    }

    #[test]
    fn cro_forms_normalise_and_check() {
        assert_eq!(Identifier::parse(Scheme::Cro, "12345/19R").unwrap().value(), "012345/19R");
        assert_eq!(Identifier::parse(Scheme::Cro, "233871/10X").unwrap().value(), "233871/10X");
        assert!(Identifier::parse(Scheme::Cro, "233871/10Y").is_err());
        let sf = format!("SF19/012345{}", check_letter(19012345));
        assert_eq!(Identifier::parse(Scheme::Cro, &sf).unwrap().value(), sf);
    }

    #[test]
    fn nhs_numbers_check_modulus_11() {
        assert!(Identifier::parse(Scheme::Nhs, "4857773457").is_ok());
        assert!(Identifier::parse(Scheme::Nhs, "9434765919").is_ok());
        assert!(Identifier::parse(Scheme::Nhs, "4857773458").is_err());
        assert!(Identifier::parse(Scheme::Nhs, "123").is_err());
    }

    #[test]
    fn crn_and_noms_shapes() {
        assert!(Identifier::parse(Scheme::Crn, "X481516").is_ok());
        assert!(Identifier::parse(Scheme::Crn, "481516").is_err());
        assert!(Identifier::parse(Scheme::Noms, "A1234BC").is_ok());
        assert!(Identifier::parse(Scheme::Noms, "A12345C").is_err());
    }
}

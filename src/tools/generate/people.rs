//! The generated people: identifiers that pass their checks, names, and the seeded draws.

use chrono::NaiveDate;

pub(super) const CHECK_LETTERS: &[u8; 23] = b"ZABCDEFGHJKLMNPQRTUVWXY";

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
    pub(super) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        self.0.i64(lo..=hi.max(lo))
    }
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.0.usize(..items.len())]
    }
}

pub(super) struct Person {
    pub(super) n: usize,
    pub(super) pnc: String,
    pub(super) cro: Option<String>,
    pub(super) crn: String,
    pub(super) client: String,
    pub(super) nhs: String,
    pub(super) surname: String,
    pub(super) forename: String,
    pub(super) dob: NaiveDate,
    pub(super) sex: &'static str,
    pub(super) force: &'static str,
}

pub(super) fn pnc(n: usize) -> String {
    let yy = 2000 + n % 25;
    let serial = (n * 7919) % 10_000_000;
    let number = (yy % 100) as u64 * 10_000_000 + serial as u64;
    format!("{yy}/{serial:07}{}", CHECK_LETTERS[(number % 23) as usize] as char)
}

pub(super) fn cro(n: usize) -> String {
    let yy = 10 + n % 15;
    let serial = (n * 104_729) % 1_000_000;
    let number = yy as u64 * 1_000_000 + serial as u64;
    format!("{serial:06}/{yy:02}{}", CHECK_LETTERS[(number % 23) as usize] as char)
}

/// A valid NHS number (modulus 11), or the next one that is.
pub(super) fn nhs(n: usize) -> String {
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

pub(super) const SURNAMES: [&str; 12] = [
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
pub(super) const FORENAMES: [&str; 12] =
    ["James", "Sarah", "Mohammed", "Emma", "Liam", "Chloë", "Olivia", "Jack", "Aoife", "Noah", "Zofia", "Ryan"];

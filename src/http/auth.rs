//! Who may use the HTTP interface: users from configuration, each with a role, passwords stored
//! only as Argon2id hashes in the PHC string format (`tracker auth hash`). Hashes in the hub's
//! earlier format (`pbkdf2-sha256$…`) are still accepted; the first good login rehashes the
//! password with Argon2id, keeps that in the store and uses it from then on (the configured hash
//! should be replaced; the log says so). Nothing but `/health` answers without credentials; each
//! role has its rights; every action is recorded with who did it.
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Who is calling: the user the request authenticated as, and their role.
pub struct Caller {
    pub user: String,
    pub role: Role,
}

use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Iterations of the earlier format's hashes (still accepted, never written).
#[cfg(test)]
const LEGACY_ITERATIONS: u32 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Watches the hub and acts: replay, purge, identity decisions.
    Operator,
    /// Reads everything, including who was told what; changes nothing.
    Auditor,
    /// Reads reports and metrics.
    Analyst,
    /// Fetches writer schemas only.
    Subscriber,
    /// A legal adviser, magistrate or member of court staff: sees the bench summaries of one
    /// court's defendants (the court named in their configuration), from what that court was
    /// sent.
    Court,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::Analyst => "analyst",
            Role::Subscriber => "subscriber",
            Role::Court => "court",
        }
    }
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    ReadSchemas,
    ReadReports,
    /// The records behind a report's figures.
    ReadDetail,
    ReadMetrics,
    ViewConsole,
    Act,
    /// Recall a disclosure made in error (operators and auditors).
    Recall,
    /// A court's view of its defendants.
    ViewCourt,
}

impl Right {
    pub fn allowed(self, role: Role) -> bool {
        match self {
            Right::ReadSchemas => true,
            Right::ReadReports => matches!(role, Role::Operator | Role::Auditor | Role::Analyst),
            Right::ReadDetail => role == Role::Auditor,
            Right::ReadMetrics => matches!(role, Role::Operator | Role::Auditor | Role::Analyst),
            Right::ViewConsole => matches!(role, Role::Operator | Role::Auditor),
            Right::Act => role == Role::Operator,
            Right::Recall => matches!(role, Role::Operator | Role::Auditor),
            Right::ViewCourt => role == Role::Court,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSettings {
    pub role: Role,
    /// An Argon2id PHC string (`$argon2id$v=19$…`) from `tracker auth hash`; the earlier
    /// `pbkdf2-sha256$ITERATIONS$SALT$HASH` is still accepted (and rehashed at the first login).
    pub password: String,
    /// For a court user: the court agency they act for (e.g. `court-b05lv00`).
    #[serde(default)]
    pub court: Option<String>,
}

/// Hashes a password for the configuration: Argon2id with the argon2 crate's defaults (19 MiB,
/// 2 passes, 1 lane — OWASP's recommended minimum), as a PHC string (`$argon2id$v=19$…`).
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes())
        .unwrap_or_else(|_| SaltString::from_b64("c2FsdHNhbHQ").expect("a valid salt"));
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
}

/// Whether a password matches a stored hash, and whether that hash is in the earlier format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Wrong,
    Right,
    /// Right, against a hash in the earlier PBKDF2 format: rehash it.
    RightButOld,
}

/// Checks a password against a stored hash: a PHC string (Argon2), or the earlier
/// `pbkdf2-sha256$ITERATIONS$SALT$HASH` (constant-time comparison).
pub fn verify(password: &str, stored: &str) -> Verdict {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    if stored.starts_with('$') {
        let Ok(hash) = PasswordHash::new(stored) else { return Verdict::Wrong };
        return match argon2::Argon2::default().verify_password(password.as_bytes(), &hash) {
            Ok(()) => Verdict::Right,
            Err(_) => Verdict::Wrong,
        };
    }
    if verify_legacy(password, stored) { Verdict::RightButOld } else { Verdict::Wrong }
}

/// Whether a password matches a stored hash, in either format.
pub fn verify_password(password: &str, stored: &str) -> bool {
    verify(password, stored) != Verdict::Wrong
}

fn verify_legacy(password: &str, stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [scheme, iterations, salt, hash] = parts.as_slice() else { return false };
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let (Ok(iterations), Ok(salt), Ok(hash)) = (iterations.parse::<u32>(), b64.decode(salt), b64.decode(hash)) else {
        return false;
    };
    // Bounded: a configured hash naming billions of iterations must not stall a login.
    if *scheme != "pbkdf2-sha256" || hash.len() != 32 || !(1..=10_000_000).contains(&iterations) {
        return false;
    }
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut out);
    out.iter().zip(hash.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The key an upgraded hash is kept under: the user and the configured (old) hash, so a new
/// configured hash is used as soon as it is set.
pub fn upgrade_key(user: &str, configured: &str) -> Vec<u8> {
    Sha256::digest(format!("{user}\u{0}{configured}")).to_vec()
}

/// Remembers credentials already verified (Argon2 is slow on purpose; a console refreshes often),
/// and the Argon2id rehashes of configured hashes in the earlier format (by `upgrade_key`).
#[derive(Default)]
pub struct Verified {
    passed: Mutex<HashSet<[u8; 32]>>,
    upgraded: Mutex<HashMap<Vec<u8>, String>>,
}

/// A configured hash in the earlier format, rehashed at a good login: to keep in the store.
pub struct Upgrade {
    pub user: String,
    pub key: Vec<u8>,
    pub hash: String,
}

impl Verified {
    /// With the rehashes kept in the store (key, Argon2id PHC string).
    pub fn with_upgrades(upgrades: Vec<(Vec<u8>, String)>) -> Verified {
        Verified { passed: Mutex::default(), upgraded: Mutex::new(upgrades.into_iter().collect()) }
    }

    /// The caller's role, if `user:password` matches a configured user, and the rehash to keep
    /// when the configured hash is in the earlier format (the first good login only).
    pub fn check(
        &self,
        users: &std::collections::BTreeMap<String, UserSettings>,
        user: &str,
        password: &str,
    ) -> Option<(Role, Option<Upgrade>)> {
        let Some(settings) = users.get(user) else {
            // As slow as a wrong password, so that timing does not tell which names exist.
            verify_password(password, unknown_user_hash());
            return None;
        };
        let key: [u8; 32] = Sha256::digest(format!("{user}\u{0}{password}\u{0}{}", settings.password)).into();
        if self.passed.lock().ok()?.contains(&key) {
            return Some((settings.role, None));
        }
        let upgrade_key = upgrade_key(user, &settings.password);
        let upgraded = self.upgraded.lock().ok()?.get(&upgrade_key).cloned();
        let verdict = verify(password, upgraded.as_deref().unwrap_or(&settings.password));
        if verdict == Verdict::Wrong {
            return None;
        }
        self.passed.lock().ok()?.insert(key);
        let upgrade = (verdict == Verdict::RightButOld).then(|| {
            let hash = hash_password(password);
            if let Ok(mut upgraded) = self.upgraded.lock() {
                upgraded.insert(upgrade_key.clone(), hash.clone());
            }
            Upgrade { user: user.to_string(), key: upgrade_key, hash }
        });
        Some((settings.role, upgrade))
    }
}

/// A hash no password was ever given for, checked for unknown users.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&uuid::Uuid::new_v4().to_string()))
}

/// Parses `Authorization: Basic …` into (user, password).
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_with_argon2id_and_checked() {
        let stored = hash_password("correct horse");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        assert_eq!(verify("correct horse", &stored), Verdict::Right);
        assert_eq!(verify("wrong", &stored), Verdict::Wrong);
        assert!(!verify_password("correct horse", "plain"));
        assert!(!verify_password("correct horse", "$argon2id$v=19$nonsense"));
    }

    /// A hash in the earlier format, as `tracker auth hash` wrote them before.
    fn legacy_hash(password: &str, iterations: u32) -> String {
        let salt = [7u8; 16];
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut out);
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        format!("pbkdf2-sha256${iterations}${}${}", b64.encode(salt), b64.encode(out))
    }

    #[test]
    fn the_earlier_format_is_accepted_then_rehashed_once_and_the_rehash_used() {
        let old = legacy_hash("correct horse", LEGACY_ITERATIONS);
        assert_eq!(verify("correct horse", &old), Verdict::RightButOld);
        assert_eq!(verify("wrong", &old), Verdict::Wrong);
        // A hash naming billions of iterations is refused at once, not computed.
        let huge = old.replacen(&format!("${LEGACY_ITERATIONS}$"), &format!("${}$", u32::MAX), 1);
        assert_eq!(verify("correct horse", &huge), Verdict::Wrong, "bounded cost");
        let users = std::collections::BTreeMap::from([(
            "ops".to_string(),
            UserSettings { role: Role::Operator, password: old.clone(), court: None },
        )]);
        let verified = Verified::default();
        let (role, upgrade) = verified.check(&users, "ops", "correct horse").expect("accepted");
        assert_eq!(role, Role::Operator);
        let upgrade = upgrade.expect("rehashed at the first good login");
        assert_eq!(verify("correct horse", &upgrade.hash), Verdict::Right);
        assert!(verified.check(&users, "ops", "correct horse").is_some_and(|(_, u)| u.is_none()), "once");
        assert!(verified.check(&users, "ops", "wrong").is_none());
        // A later process, with the rehash from the store, checks against it, not the old hash.
        let later = Verified::with_upgrades(vec![(upgrade.key, upgrade.hash)]);
        assert!(later.check(&users, "ops", "correct horse").is_some_and(|(_, u)| u.is_none()));
    }

    #[test]
    fn rights_follow_roles() {
        assert!(Right::Act.allowed(Role::Operator));
        assert!(!Right::Act.allowed(Role::Auditor));
        assert!(Right::ViewConsole.allowed(Role::Auditor));
        assert!(!Right::ViewConsole.allowed(Role::Analyst));
        assert!(!Right::ReadMetrics.allowed(Role::Subscriber));
        assert!(Right::ReadSchemas.allowed(Role::Subscriber));
        assert!(Right::ViewCourt.allowed(Role::Court));
        assert!(!Right::ViewCourt.allowed(Role::Auditor));
        assert!(!Right::ViewConsole.allowed(Role::Court));
        assert!(!Right::ReadReports.allowed(Role::Court));
    }
}

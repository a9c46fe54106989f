//! Who may use the HTTP interface: users from configuration, each with a role, passwords stored
//! only as PBKDF2-SHA256 hashes (`tracker auth hash`). Nothing but `/health` answers without
//! credentials; each role has its rights; every action is recorded with who did it.
use std::collections::HashSet;
use std::sync::Mutex;

/// Who is calling: the user the request authenticated as, and their role.
pub struct Caller {
    pub user: String,
    pub role: Role,
}

use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

const ITERATIONS: u32 = 100_000;

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
    /// `pbkdf2-sha256$ITERATIONS$SALT$HASH` (base64), from `tracker auth hash`.
    pub password: String,
    /// For a court user: the court agency they act for (e.g. `court-b05lv00`).
    #[serde(default)]
    pub court: Option<String>,
}

/// Hashes a password for the configuration.
pub fn hash_password(password: &str) -> String {
    let salt = uuid::Uuid::new_v4().into_bytes();
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, ITERATIONS, &mut out);
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    format!("pbkdf2-sha256${ITERATIONS}${}${}", b64.encode(salt), b64.encode(out))
}

/// Checks a password against a stored hash (constant-time comparison).
pub fn verify_password(password: &str, stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [scheme, iterations, salt, hash] = parts.as_slice() else { return false };
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let (Ok(iterations), Ok(salt), Ok(hash)) = (iterations.parse::<u32>(), b64.decode(salt), b64.decode(hash)) else {
        return false;
    };
    if *scheme != "pbkdf2-sha256" || hash.len() != 32 {
        return false;
    }
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut out);
    out.iter().zip(hash.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Remembers credentials already verified (PBKDF2 is slow on purpose; a console refreshes often).
#[derive(Default)]
pub struct Verified(Mutex<HashSet<[u8; 32]>>);

impl Verified {
    /// The caller's role, if `user:password` matches a configured user.
    pub fn check(
        &self,
        users: &std::collections::BTreeMap<String, UserSettings>,
        user: &str,
        password: &str,
    ) -> Option<Role> {
        let Some(settings) = users.get(user) else {
            // As slow as a wrong password, so that timing does not tell which names exist.
            verify_password(password, unknown_user_hash());
            return None;
        };
        let key: [u8; 32] = Sha256::digest(format!("{user}\u{0}{password}\u{0}{}", settings.password)).into();
        if self.0.lock().ok()?.contains(&key) {
            return Some(settings.role);
        }
        if verify_password(password, &settings.password) {
            self.0.lock().ok()?.insert(key);
            Some(settings.role)
        } else {
            None
        }
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
    fn passwords_are_hashed_and_checked() {
        let stored = hash_password("correct horse");
        assert!(stored.starts_with("pbkdf2-sha256$100000$"));
        assert!(!stored.contains("correct horse"));
        assert!(verify_password("correct horse", &stored));
        assert!(!verify_password("wrong", &stored));
        assert!(!verify_password("correct horse", "plain"));
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

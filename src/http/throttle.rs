//! Login throttling for the HTTP interface: after a few failed logins within a window, further
//! attempts for that user name, or from that address, are refused (429) until the window ends,
//! whatever the password. Guessing is slowed to a handful of tries a minute per name and per
//! address, and a locked-out name does not stop its owner for longer than the window.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins for one name allowed within [`WINDOW`] before it is locked out.
pub const FAILURES_ALLOWED: u32 = 5;
/// Failed logins from one address (people behind one proxy share it) before it is locked out.
pub const ADDRESS_FAILURES_ALLOWED: u32 = 20;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Names and addresses remembered at most (a flood of made-up names cannot grow memory).
const REMEMBERED: usize = 10_000;

pub struct Throttle {
    by_user: Mutex<HashMap<String, Failures>>,
    by_address: Mutex<HashMap<IpAddr, Failures>>,
    per_name: u32,
    per_address: u32,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::new(FAILURES_ALLOWED, ADDRESS_FAILURES_ALLOWED)
    }
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
}

impl Throttle {
    /// Locks a name after `per_name` failures within the window, an address after `per_address`.
    pub fn new(per_name: u32, per_address: u32) -> Throttle {
        Throttle { by_user: Default::default(), by_address: Default::default(), per_name, per_address }
    }

    /// How long the caller must wait, if the name or the address is locked out now.
    pub fn locked(&self, user: Option<&str>, address: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let by_user = user.and_then(|u| wait(&self.by_user, u, self.per_name, now));
        let by_address = address.and_then(|a| wait(&self.by_address, &a, self.per_address, now));
        by_user.max(by_address)
    }

    pub fn failed(&self, user: &str, address: Option<IpAddr>, now: Instant) {
        count(&self.by_user, user.to_string(), now);
        if let Some(a) = address {
            count(&self.by_address, a, now);
        }
    }

    /// A good login clears its name's failures (not its address's: one right password must not
    /// reset guessing at other names from the same place).
    pub fn succeeded(&self, user: &str) {
        if let Ok(mut m) = self.by_user.lock() {
            m.remove(user);
        }
    }
}

fn wait<K: std::hash::Hash + Eq + ?Sized, Q: std::hash::Hash + Eq + std::borrow::Borrow<K>>(
    map: &Mutex<HashMap<Q, Failures>>,
    key: &K,
    allowed: u32,
    now: Instant,
) -> Option<Duration> {
    let m = map.lock().ok()?;
    let f = m.get(key)?;
    let elapsed = now.saturating_duration_since(f.since);
    (f.count >= allowed && elapsed < WINDOW).then(|| WINDOW - elapsed)
}

fn count<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Failures>>, key: K, now: Instant) {
    let Ok(mut m) = map.lock() else { return };
    if m.len() >= REMEMBERED {
        m.retain(|_, f| now.saturating_duration_since(f.since) < WINDOW);
    }
    if m.len() >= REMEMBERED && !m.contains_key(&key) {
        return;
    }
    let f = m.entry(key).or_insert(Failures { count: 0, since: now });
    if now.saturating_duration_since(f.since) >= WINDOW {
        *f = Failures { count: 0, since: now };
    }
    f.count += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_a_name_and_an_address_after_repeated_failures_until_the_window_ends() {
        let t = Throttle::default();
        let now = Instant::now();
        let here: IpAddr = "10.0.0.1".parse().unwrap();
        let elsewhere: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..FAILURES_ALLOWED {
            assert!(t.locked(Some("op"), Some(here), now).is_none());
            t.failed("op", Some(here), now);
        }
        // The name is locked wherever it comes from; other names from here are not, yet.
        assert!(t.locked(Some("op"), Some(elsewhere), now).is_some());
        assert!(t.locked(Some("aud"), Some(here), now).is_none());
        for i in FAILURES_ALLOWED..ADDRESS_FAILURES_ALLOWED {
            t.failed(&format!("guess{i}"), Some(here), now);
        }
        assert!(t.locked(Some("aud"), Some(here), now).is_some());
        assert!(t.locked(Some("aud"), Some(elsewhere), now).is_none());
        assert!(t.locked(Some("op"), Some(here), now + WINDOW).is_none());
    }
}

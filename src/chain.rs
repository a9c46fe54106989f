//! Hash chains, as the hub's two logs keep them (disclosures, consultations): each entry's hash is
//! SHA-256 of the previous entry's hash and the entry's content, so an entry edited, deleted or
//! moved is found by walking the chain again.
use sha2::{Digest, Sha256};

/// The previous hash of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry with `content` that follows the entry hashed `prev`.
pub fn link(prev: &str, content: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update([0x1e]);
    h.update(content.as_bytes());
    hex::encode(h.finalize())
}

/// What verification found: the first broken link, if any.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Verified {
    Intact {
        entries: usize,
    },
    /// The entry's content no longer matches its hash.
    Edited {
        id: i64,
    },
    /// The entry does not follow the one before it: entries were removed before it.
    Deleted {
        before_id: i64,
    },
    /// The entry follows an entry that now stands elsewhere in the log.
    Reordered {
        id: i64,
    },
}

/// One stored entry as verification reads it.
pub struct Stored<'a> {
    pub id: i64,
    pub prev_hash: &'a str,
    pub hash: &'a str,
    pub content: String,
}

/// Walks a log's entries in order and finds the first broken link.
pub fn verify<'a>(entries: impl IntoIterator<Item = Stored<'a>>) -> Verified {
    let entries: Vec<Stored> = entries.into_iter().collect();
    let all_hashes: std::collections::HashSet<&str> = entries.iter().map(|e| e.hash).collect();
    let mut expected_prev = GENESIS;
    for e in &entries {
        if link(e.prev_hash, &e.content) != e.hash {
            return Verified::Edited { id: e.id };
        }
        if e.prev_hash != expected_prev {
            return if all_hashes.contains(e.prev_hash) {
                Verified::Reordered { id: e.id }
            } else {
                Verified::Deleted { before_id: e.id }
            };
        }
        expected_prev = e.hash;
    }
    Verified::Intact { entries: entries.len() }
}

/// A sentence for an operator.
pub fn describe(v: &Verified) -> String {
    match v {
        Verified::Intact { entries } => format!("intact ({entries} entries)"),
        Verified::Edited { id } => format!("entry {id} was edited (its content no longer matches its hash)"),
        Verified::Deleted { before_id } => format!("entries were deleted just before entry {before_id}"),
        Verified::Reordered { id } => {
            format!("entry {id} is out of order (it follows an entry now elsewhere in the log)")
        }
    }
}

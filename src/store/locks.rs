//! Transaction-scoped advisory locks that serialise the shared state every hub process writes:
//! the person index and the two hash chains (disclosures, consultations). Released at commit or rollback.
use sqlx::{Postgres, Transaction};

/// The person index (identity decisions across hub processes).
const IDENTITY_INDEX: i64 = 0x0074_7261_636b_6572;
/// The disclosure-log chain (one order of entries); taken with the chain's head by
/// `disclosure_log::lock_and_read_head`.
pub(super) const DISCLOSURE_LOG: i64 = 0x0064_6973_636c_6f67;
/// The consultation-log chain.
const CONSULTATION_LOG: i64 = 0x0063_6f6e_7375_6c74;

pub async fn identity_index(tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
    lock(tx, IDENTITY_INDEX).await
}

pub async fn consultation_log(tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
    lock(tx, CONSULTATION_LOG).await
}

async fn lock(tx: &mut Transaction<'_, Postgres>, key: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut **tx).await?;
    Ok(())
}

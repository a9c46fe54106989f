//! Passwords rehashed from the earlier format (migration 0022): the Argon2id hash of a user whose
//! configured hash is in the hub's earlier PBKDF2 format, kept by a digest of that configured hash.
use sqlx::PgPool;

/// Every rehash kept: (digest of the user and configured hash, Argon2id PHC string).
pub async fn all(pool: &PgPool) -> Result<Vec<(Vec<u8>, String)>, sqlx::Error> {
    sqlx::query_as("SELECT configured_sha256, phc FROM password_upgrades").fetch_all(pool).await
}

/// Keeps a rehash (the first one kept for a configured hash stays).
pub async fn keep(pool: &PgPool, key: &[u8], phc: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO password_upgrades (configured_sha256, phc) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(key)
        .bind(phc)
        .execute(pool)
        .await?;
    Ok(())
}

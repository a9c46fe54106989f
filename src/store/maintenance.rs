//! Table statistics and dead rows, for servers that do not keep them (autovacuum off): which
//! tables have changed enough since they were last analysed or vacuumed, and the statements that
//! bring them up to date. The thresholds are autovacuum's own defaults, so a table is looked after
//! much as the server would have done. Without statistics the planner guesses, and on tables of
//! millions of rows it guesses sequential scans.
use sqlx::PgPool;

/// A table that needs its statistics refreshed (`analyze`) or its dead rows reclaimed (`vacuum`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Due {
    pub table: String,
    pub analyze: bool,
    pub vacuum: bool,
}

/// Whether the server runs autovacuum itself.
pub async fn server_autovacuum(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let setting: String = sqlx::query_scalar("SELECT current_setting('autovacuum')").fetch_one(pool).await?;
    Ok(setting == "on")
}

/// The tables of this schema that have changed by more than autovacuum's default scale factors
/// plus 1,000 rows since they were last analysed or vacuumed (by anyone). Analyze: 10 % of the
/// rows changed. Vacuum: 20 % dead, or, as autovacuum has done since PostgreSQL 13, 20 % inserted:
/// vacuuming an append-only table marks its new pages all-visible, which the index-only reads of
/// a person's history need (`involvements_subject_covering`). The base is higher than
/// autovacuum's so that tables growing from empty are not looked after again and again.
pub async fn due(pool: &PgPool) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM (
             SELECT s.relname AS table,
                    s.n_mod_since_analyze > 1000 + 0.1 * greatest(c.reltuples, 0) AS analyze,
                    greatest(s.n_dead_tup, s.n_ins_since_vacuum) > 1000 + 0.2 * greatest(c.reltuples, 0) AS vacuum
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
             WHERE s.schemaname = current_schema()) AS t
         WHERE t.analyze OR t.vacuum
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}

/// Brings one table's statistics (and, when due, its dead rows) up to date. VACUUM cannot run in
/// a transaction, so this takes a connection of its own from the pool.
pub async fn look_after(pool: &PgPool, due: &Due) -> Result<(), sqlx::Error> {
    // The name comes from the catalogue, quoted as an identifier all the same.
    let table = format!("\"{}\"", due.table.replace('"', "\"\""));
    let statement = if due.vacuum { format!("VACUUM (ANALYZE) {table}") } else { format!("ANALYZE {table}") };
    let mut conn = pool.acquire().await?;
    // Paced as autovacuum paces itself (a short sleep after each batch of page reads), so that
    // a pass over a big table spreads its work instead of taking a core from the message path
    // at once. Reset afterwards: the connection goes back to the pool.
    sqlx::raw_sql("SET vacuum_cost_delay = '2ms'").execute(&mut *conn).await?;
    let done = sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *conn).await;
    sqlx::raw_sql("RESET vacuum_cost_delay").execute(&mut *conn).await?;
    done?;
    Ok(())
}

//! People as the store holds them: a summary per person for the demo.
use sqlx::PgPool;

/// One person: id, first known name, identifiers, and events per agency.
#[derive(Debug, sqlx::FromRow)]
pub struct PersonSummary {
    pub subject_id: uuid::Uuid,
    pub name: String,
    pub identifiers: Option<String>,
    pub events_per_agency: String,
}

pub async fn summaries(pool: &PgPool) -> Result<Vec<PersonSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.subject_id,
                coalesce((SELECT name FROM subject_details d WHERE d.subject_id = s.subject_id
                          ORDER BY first_seen_at LIMIT 1), '') AS name,
                (SELECT string_agg(scheme || ' ' || value, ', ' ORDER BY scheme) FROM subject_identifiers i
                 WHERE i.subject_id = s.subject_id) AS identifiers,
                coalesce((SELECT string_agg(agency || ' ' || n, ', ' ORDER BY agency)
                          FROM (SELECT agency, count(*) n FROM events e WHERE e.subject_id = s.subject_id
                                GROUP BY agency) a), '') AS events_per_agency
         FROM subjects s ORDER BY 2",
    )
    .fetch_all(pool)
    .await
}

//! `tracker bench court`: the court's views over a generated store (or the configured one) — the
//! bench summary of the person with the longest history a court has, and the court list of the
//! busiest sitting day — beside the floor of reading that person's events once.
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use uuid::Uuid;

use crate::court::{CourtUser, View};
use crate::hub::Hub;
use crate::settings::Settings;

const RUNS: usize = 5;

/// Loads generated traffic (as `bench reports`), then times the court's views.
pub(super) async fn run(settings: Settings, generated: &super::Store) -> anyhow::Result<()> {
    let (sandbox, _, _) =
        super::reports::load_generated(settings, "Court view", generated.people, generated.months, generated.batches())
            .await?;
    let timed = time_views(&sandbox.hub).await;
    super::baseline::print_memory();
    super::reports::finish(sandbox, generated.keep).await?;
    timed
}

/// Times the court's views over the configured store as it is.
pub(super) async fn over_store(settings: Settings) -> anyhow::Result<()> {
    let hub = Hub::build(settings).await?;
    println!("Court view benchmark over {}", crate::broker::redact_url(&hub.settings.database.url));
    super::baseline::print_machine();
    time_views(&hub).await
}

async fn time_views(hub: &Hub) -> anyhow::Result<()> {
    let pool = &hub.pool;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
    println!("store: {events} events");
    sqlx::query("ANALYZE").execute(pool).await?;
    // The busiest sitting: the court code and day with most people heard.
    let busiest: Option<(String, NaiveDate, i64)> = sqlx::query_as(
        "SELECT court, hearing_date, count(DISTINCT subject_id) FROM hearings GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    let Some((code, day, heard)) = busiest else { anyhow::bail!("the store holds no hearings") };
    let Some(court) = hub.settings.agencies.iter().find(|(_, a)| a.codes.contains(&code)).map(|(id, _)| id.to_string())
    else {
        anyhow::bail!("no configured agency has court code {code}")
    };
    let viewer = CourtUser { user: "bench".into(), court: court.clone() };
    let list = timed(|| crate::court::court_list(hub, &viewer, Some(day), View::ListJson)).await?;
    println!(
        "court list of {court} on {day} ({heard} heard that day, {} listed): median {:>7.1} ms  max {:>7.1} ms  (target < 500 ms)",
        list.2.defendants.len(),
        ms(list.0),
        ms(list.1)
    );
    // The person with the longest history (in years, then in events) among those this court
    // has heard.
    let person: Option<(Uuid, i64, f64)> = sqlx::query_as(
        "SELECT e.subject_id, count(*),
                extract(epoch FROM max(e.occurred_at) - min(e.occurred_at))::float8 / (365.25 * 86400)
         FROM events e
         WHERE e.subject_id IN (SELECT subject_id FROM hearings WHERE court = $1 AND subject_id IS NOT NULL)
         GROUP BY 1 ORDER BY 3 DESC, 2 DESC LIMIT 1",
    )
    .bind(&code)
    .fetch_optional(pool)
    .await?;
    let Some((person, their_events, years)) = person else { anyhow::bail!("no person has a hearing at {code}") };
    let floor = timed(|| async {
        let rows: Vec<(Uuid,)> =
            sqlx::query_as("SELECT event_id FROM events WHERE subject_id = $1").bind(person).fetch_all(pool).await?;
        anyhow::Ok(rows.len())
    })
    .await?;
    let summary = timed(|| crate::court::bench_summary(hub, &viewer, person, "benchmark", View::SummaryJson)).await?;
    let items = summary.2.as_ref().map(|s| s.parts.values().map(Vec::len).sum::<usize>()).unwrap_or_default();
    println!(
        "bench summary of the longest history ({their_events} events over {years:.1} years, {items} items for {court}): \
         median {:>7.1} ms  max {:>7.1} ms  (target < 200 ms)",
        ms(summary.0),
        ms(summary.1)
    );
    println!("floor: reading that person's event ids once: median {:>7.1} ms", ms(floor.0));
    Ok(())
}

/// Runs `f` RUNS times: (median, max, last result).
async fn timed<T, F, Fut>(f: F) -> anyhow::Result<(Duration, Duration, T)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut runs = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        last = Some(f().await?);
        runs.push(t.elapsed());
    }
    runs.sort();
    let last = last.ok_or_else(|| anyhow::anyhow!("no run"))?;
    Ok((runs[RUNS / 2], runs[RUNS - 1], last))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

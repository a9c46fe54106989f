//! The court's view of a person: what a bench needs, built only from what that court was sent
//! (deliveries confirmed and not retracted, with the fields its copies left out) and its own
//! records — never another court's, never a withheld field. Where something exists but was
//! withheld from the court, the summary says so and why, never what it holds. Every view, and
//! every attempt refused, is logged in the consultation log.
pub mod list;
pub mod page;
pub mod pdf;
pub mod summary;

use chrono::NaiveDate;
use uuid::Uuid;

use crate::consultations::{self, Consultation};
use crate::hub::Hub;
pub use list::CourtList;
pub use summary::BenchSummary;

/// A court user: who, and the court they act for.
#[derive(Debug, Clone)]
pub struct CourtUser {
    pub user: String,
    pub court: String,
}

/// Which view was asked for (as logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Summary,
    SummaryJson,
    SummaryPdf,
    List,
    ListJson,
    /// One person's page in a sitting's bench pack (PDF).
    Pack,
}

impl View {
    fn as_str(self) -> &'static str {
        match self {
            View::Summary => "bench summary",
            View::SummaryJson => "bench summary (json)",
            View::SummaryPdf => "bench summary (pdf)",
            View::List => "court list",
            View::Pack => "bench pack (pdf)",
            View::ListJson => "court list (json)",
        }
    }
}

/// The bench summary of `subject` for `viewer`'s court, logged as a consultation with
/// `purpose`. `None` (logged as refused) when the court has nothing about the person: not its
/// defendant, or not a person at all.
pub async fn bench_summary(
    hub: &Hub,
    viewer: &CourtUser,
    subject: Uuid,
    purpose: &str,
    view: View,
) -> anyhow::Result<Option<BenchSummary>> {
    let now = hub.clock.now();
    let seen = crate::store::court::seen(&hub.pool, &viewer.court, subject).await?;
    let shown = !seen.is_empty();
    let summary = if shown {
        let withheld = crate::store::court::withheld(&hub.pool, &viewer.court, &[subject]).await?;
        let mut summary = summary::build(&viewer.court, subject, seen, &withheld, now);
        summary.name_sources(|agency| hub.settings.agency(agency).map(|a| a.name.clone()));
        Some(summary)
    } else {
        tracing::warn!(user = %viewer.user, court = %viewer.court, %subject, "refused: not this court's defendant");
        None
    };
    log_view(hub, viewer, Some(subject), view, consultations::clean_purpose(purpose), shown).await?;
    Ok(summary)
}

/// The court list of `viewer`'s court for `sitting` (the hub's today by default), logged as one
/// consultation (the list names every defendant on it).
pub async fn court_list(
    hub: &Hub,
    viewer: &CourtUser,
    sitting: Option<NaiveDate>,
    view: View,
) -> anyhow::Result<CourtList> {
    let now = hub.clock.now();
    let sitting = sitting.unwrap_or_else(|| crate::sharing::today(now));
    let codes = hub.settings.agency(&viewer.court).map(|a| a.codes.clone()).unwrap_or_default();
    let listed = crate::store::court::listed(&hub.pool, &viewer.court, &codes, sitting).await?;
    let mut people: Vec<Uuid> = listed.iter().map(|l| l.0).collect();
    people.sort();
    people.dedup();
    let seen = crate::store::court::seen_of(&hub.pool, &viewer.court, &people).await?;
    let withheld = crate::store::court::withheld(&hub.pool, &viewer.court, &people).await?;
    let list = list::build(&viewer.court, sitting, &listed, seen, &withheld, now);
    let purpose = format!("sitting of {sitting}: {} defendants", list.defendants.len());
    log_view(hub, viewer, None, view, purpose, true).await?;
    Ok(list)
}

/// The bench pack of a sitting: the list, and the summary of each defendant on it in list
/// order, each logged as a consultation for that sitting.
pub async fn bench_pack(
    hub: &Hub,
    viewer: &CourtUser,
    sitting: Option<NaiveDate>,
) -> anyhow::Result<(CourtList, Vec<BenchSummary>)> {
    let list = court_list(hub, viewer, sitting, View::Pack).await?;
    let purpose = format!("bench pack for the sitting of {}", list.sitting);
    let mut summaries = Vec::with_capacity(list.defendants.len());
    for d in &list.defendants {
        if let Some(s) = bench_summary(hub, viewer, d.subject_id, &purpose, View::Pack).await? {
            summaries.push(s);
        }
    }
    Ok((list, summaries))
}

/// Records a court user's view (or refused attempt) in the consultation log.
async fn log_view(
    hub: &Hub,
    viewer: &CourtUser,
    subject: Option<Uuid>,
    view: View,
    purpose: String,
    shown: bool,
) -> Result<i64, sqlx::Error> {
    let consultation = Consultation {
        viewer: viewer.user.clone(),
        role: "court".into(),
        court: Some(viewer.court.clone()),
        subject_id: subject,
        view: view.as_str().into(),
        purpose,
        outcome: if shown { "shown" } else { "refused" }.into(),
        viewed_at: hub.clock.now(),
    };
    consultations::record(&hub.pool, &consultation).await
}

//! The court's view of a person: what a bench needs, built only from what that court was sent
//! (deliveries confirmed and not retracted, with the fields its copies left out) and its own
//! records — never another court's, never a withheld field. Where something exists but was
//! withheld from the court, the summary says so and why, never what it holds. Every view, and
//! every attempt refused, is logged in the consultation log.
pub mod list;
pub mod page;
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
    List,
    ListJson,
}

impl View {
    fn as_str(self) -> &'static str {
        match self {
            View::Summary => "bench summary",
            View::SummaryJson => "bench summary (json)",
            View::List => "court list",
            View::ListJson => "court list (json)",
        }
    }
}

/// The longest purpose kept in the log; a longer one is cut there.
pub const MAX_PURPOSE_CHARS: usize = 200;

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
    let purpose: String = purpose.trim().chars().filter(|c| !c.is_control()).take(MAX_PURPOSE_CHARS).collect();
    let purpose = if purpose.is_empty() { "none given".into() } else { purpose };
    log_view(hub, viewer, Some(subject), view, purpose, shown).await?;
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

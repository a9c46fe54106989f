//! Reports: each a definition and a query over the store's projections, run for a
//! period and optionally a court or an agency, rendered as a table, CSV, JSON or an HTML page
//! with a chart.
pub mod catalogue;
pub mod detail;
pub mod render;

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{Column, PgPool, Row};

pub use catalogue::{REPORTS, ReportDef};

/// What a report is run for.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub court: Option<String>,
    pub agency: Option<String>,
}

/// A report's result: its definition, parameters, columns and rows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub number: u32,
    pub name: &'static str,
    pub title: &'static str,
    pub definition: &'static str,
    pub params: Params,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no report {0:?}; `tracker report list` names them")]
    Unknown(String),
    #[error("the period ends ({to}) before it starts ({from})")]
    Period { from: NaiveDate, to: NaiveDate },
    #[error("report {name}: {source}")]
    Query { name: &'static str, source: sqlx::Error },
}

pub async fn run(pool: &PgPool, name: &str, params: Params) -> Result<Report, ReportError> {
    run_query(pool, name, params, false).await
}

/// The records behind a report's figures (`--detail`, for auditors).
/// The records behind a report's figures, the look logged in the consultation log for `looker`
/// (its purpose names the report and period when the looker gives none).
pub async fn detail(
    pool: &PgPool,
    name: &str,
    params: Params,
    looker: &crate::consultations::Looker<'_>,
) -> Result<Report, ReportError> {
    let (from, to) = (params.from, params.to);
    let report = run_query(pool, name, params, true).await?;
    let purpose = if looker.purpose.trim().is_empty() {
        format!("report {name} from {from} to {to}")
    } else {
        format!("{} (report {name} from {from} to {to})", looker.purpose)
    };
    let looker = crate::consultations::Looker { purpose: &purpose, ..looker.clone() };
    crate::consultations::record_look(pool, &looker, None, "report detail")
        .await
        .map_err(|source| ReportError::Query { name: report.name, source })?;
    Ok(report)
}

async fn run_query(pool: &PgPool, name: &str, params: Params, detail: bool) -> Result<Report, ReportError> {
    let def = catalogue::find(name).ok_or_else(|| ReportError::Unknown(name.to_string()))?;
    if params.to < params.from {
        return Err(ReportError::Period { from: params.from, to: params.to });
    }
    let sql = if detail {
        detail::DETAIL
            .iter()
            .find(|(n, _)| *n == def.name)
            .map(|(_, sql)| *sql)
            .ok_or_else(|| ReportError::Unknown(name.to_string()))?
    } else {
        def.sql
    };
    let rows = sqlx::query(sql)
        .bind(params.from)
        .bind(params.to)
        .bind(&params.court)
        .bind(&params.agency)
        .fetch_all(pool)
        .await
        .map_err(|source| ReportError::Query { name: def.name, source })?;
    // With no rows, the statement's description still names the columns (a CSV or table of
    // nothing keeps its header).
    let columns: Vec<String> = match rows.first() {
        Some(r) => r.columns().iter().map(|c| c.name().to_string()).collect(),
        None => {
            use sqlx::{Executor, Statement};
            let types = ["date", "date", "text", "text"].map(sqlx::postgres::PgTypeInfo::with_name);
            let statement = pool
                .prepare_with(sqlx::SqlStr::from_static(sql), &types)
                .await
                .map_err(|source| ReportError::Query { name: def.name, source })?;
            statement.columns().iter().map(|c| c.name().to_string()).collect()
        }
    };
    let rows = rows
        .iter()
        .map(|r| {
            (0..r.columns().len())
                .map(|i| r.try_get::<Option<String>, _>(i).ok().flatten().unwrap_or_default())
                .collect()
        })
        .collect();
    Ok(Report {
        number: def.number,
        name: def.name,
        title: def.title,
        definition: def.definition,
        params,
        columns,
        rows,
    })
}

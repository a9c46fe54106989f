//! The hub's shared state: settings, the loaded connectors and schemas, the store's pool, the
//! clock, the sharing rules and the work counters. Built once from settings (`Hub::build`) and
//! shared by every task the application runs; the runtime path, the operator's tools and the
//! HTTP side all take it.
use std::sync::Arc;

use anyhow::Context;
use sqlx::PgPool;

use crate::clock::Clock;
use crate::connectors::Registry;
use crate::schemas::{self, Schemas};
use crate::settings::Settings;
use crate::sharing::Sharing;
use crate::sharing::agreements::Agreements;
use crate::stats::Stats;

/// Everything processing needs, shared by every consumer.
pub struct Hub {
    pub settings: Settings,
    /// The loaded connector files; replaced by [`Hub::reload_connectors`] after a fix.
    pub connectors: std::sync::RwLock<std::sync::Arc<Registry>>,
    pub schemas: &'static Schemas,
    pub pool: PgPool,
    pub clock: Clock,
    pub stats: Stats,
    pub sharing: crate::sharing::Sharing,
    /// Woken after each commit that queued deliveries.
    pub publisher_wakeup: tokio::sync::Notify,
    /// This hub's name to PostgreSQL (`tracker <random id>`, its connections' `application_name`):
    /// the outbox's notifications carry the writer's name, and the publisher passes over its own
    /// (it was woken directly at the commit).
    pub name: String,
    /// Where the hub's spans go (`log.otlp_endpoint`), if anywhere.
    pub spans: crate::otlp::Exporter,
}

impl Hub {
    /// Loads the connector files, the schemas and the agreements, connects to the store and
    /// brings its schema up to date. Nothing runs yet (see `app::App`).
    pub async fn build(settings: Settings) -> anyhow::Result<Hub> {
        let connectors = Registry::load(&settings.paths.connectors)?;
        settings.check_connectors(&connectors.names())?;
        settings.check_users()?;
        settings.check_retention()?;
        let schemas = schemas::get()?;
        let name = format!("tracker {}", uuid::Uuid::new_v4());
        let pool = crate::store::connect(&settings.database.url, settings.database.max_connections, &name)
            .await
            .context("connecting to Postgres")?;
        crate::store::migrate(&pool).await?;
        let clock = settings.fixed_clock()?.map_or(Clock::System, Clock::Fixed);
        let sharing = Sharing::new(&settings, Agreements::load(&settings.paths.agreements)?);
        let spans = crate::otlp::Exporter::start(&settings.log.otlp_endpoint, "tracker");
        Ok(Hub {
            settings,
            connectors: std::sync::RwLock::new(Arc::new(connectors)),
            schemas,
            pool,
            clock,
            stats: Default::default(),
            sharing,
            publisher_wakeup: Default::default(),
            name,
            spans,
        })
    }

    /// The connector files as last loaded.
    pub fn connectors(&self) -> std::sync::Arc<Registry> {
        match self.connectors.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Loads the connector files again (after an operator fixed one); a broken file is refused
    /// naming file and line, and the connectors in use stay as they were.
    pub fn reload_connectors(&self) -> Result<(), crate::connectors::ConnectorFileError> {
        let fresh = Registry::load(&self.settings.paths.connectors)?;
        if let Ok(mut w) = self.connectors.write() {
            *w = std::sync::Arc::new(fresh);
        }
        Ok(())
    }
}

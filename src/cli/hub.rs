//! Running the hub: `migrate`, `provision` (the broker contract, and agency broker users) and
//! `run` (until SIGINT or SIGTERM).
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::app::App;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Also make one broker user per agency (management API); passwords kept in this file.
    #[arg(long)]
    agency_users: Option<PathBuf>,
}

pub async fn migrate(settings: &Settings) -> anyhow::Result<ExitCode> {
    super::store(settings).await?;
    tracing::info!("the store's schema is up to date");
    println!("migrations applied");
    Ok(ExitCode::SUCCESS)
}

pub async fn provision(settings: &Settings, args: ProvisionArgs) -> anyhow::Result<ExitCode> {
    for d in crate::broker::provision::provision(settings).await? {
        println!("declared {d}");
    }
    if let Some(file) = args.agency_users {
        let (s, f) = (settings.clone(), file.clone());
        let creds = tokio::task::spawn_blocking(move || crate::broker::users::provision_users(&s, &f)).await??;
        for (agency, (user, _)) in creds {
            println!("broker user {user} for {agency}");
        }
        println!("passwords in {} (readable by its owner only)", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    let app = App::build(settings).await?;
    let stop = app.stopper();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: finishing the message in hand, then stopping");
        let _ = stop.send(true);
    });
    app.start().await;
    app.run_until_stopped().await?;
    tracing::info!("stopped cleanly");
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

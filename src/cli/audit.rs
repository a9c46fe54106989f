//! `tracker audit verify`: the hash chains of the disclosure log and the consultation log;
//! `tracker audit consultations`: who looked at whom.
use std::process::ExitCode;

use clap::Subcommand;
use uuid::Uuid;

use crate::chain::{Verified, describe};
use crate::settings::Settings;
use crate::sharing::log;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chains of the disclosure log and the consultation log: says which entry was
    /// edited, deleted or reordered.
    Verify {
        #[command(flatten)]
        output: super::Output,
    },
    /// List consultations (who viewed whose record, for which court and purpose, and attempts
    /// refused), newest first.
    Consultations {
        /// Only those about this person (subject id).
        #[arg(long)]
        person: Option<Uuid>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Recall a disclosure found unlawful or made in error (DPA 2018 s.38(5)(c)): its recipient
    /// is sent an erasure notice naming the delivery's message id; logged, with who did it.
    Recall {
        /// The delivery's AMQP message id (as the recipient received it).
        message_id: Uuid,
        #[arg(long, value_enum)]
        reason: crate::ops::recall::RecallReason,
        /// What was wrong, in words (kept with the action, not sent).
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        actor: super::Actor,
    },
}

pub async fn run(settings: &Settings, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let pool = super::store(settings).await?;
    match command {
        AuditCommand::Recall { message_id, reason, note, json, actor } => {
            let now = super::now(settings)?;
            let recalled = crate::ops::recall::recall(&pool, message_id, reason, &actor.by, &note, now).await;
            match recalled {
                Ok(r) if json => println!("{}", serde_json::to_string(&r)?),
                Ok(crate::ops::recall::Recalled::NoticeQueued { recipient, notice_message_id }) => {
                    println!("recalled: an erasure notice ({notice_message_id}) is queued for {recipient}")
                }
                Ok(crate::ops::recall::Recalled::Stopped { recipient, notice_message_id }) => println!(
                    "recalled before it was sent: the delivery to {recipient} is stopped (notice {notice_message_id} \
                     goes only if it was sent meanwhile)"
                ),
                Ok(crate::ops::recall::Recalled::AlreadyRecalled) => println!("already recalled: nothing more to do"),
                Err(
                    e @ (crate::ops::recall::RecallError::NotFound(_) | crate::ops::recall::RecallError::NeverSent(_)),
                ) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(2));
                }
                Err(e) => return Err(e.into()),
            }
        }
        AuditCommand::Verify { output } => {
            let mut intact = true;
            let logs = [
                ("disclosure_log", log::verify(&pool).await?),
                ("consultation_log", crate::consultations::verify(&pool).await?),
            ];
            if output.json {
                output.print(&logs.iter().cloned().collect::<std::collections::BTreeMap<_, _>>())?;
                let broken = logs.iter().any(|(_, v)| !matches!(v, Verified::Intact { .. }));
                return Ok(if broken { ExitCode::FAILURE } else { ExitCode::SUCCESS });
            }
            for (name, verified) in logs {
                let name = name.replace('_', " ");
                match verified {
                    Verified::Intact { entries } => println!("{name} intact: {entries} entries"),
                    broken => {
                        eprintln!("{name} broken: {}", describe(&broken));
                        intact = false;
                    }
                }
            }
            if !intact {
                return Ok(ExitCode::FAILURE);
            }
        }
        AuditCommand::Consultations { person, limit, json } => {
            let rows = crate::consultations::latest(&pool, person, limit.clamp(1, 100_000)).await?;
            for (id, c) in rows {
                if json {
                    println!("{}", serde_json::json!({"id": id, "consultation": c}));
                } else {
                    println!(
                        "{id:>6}  {}  {:<8} {:<10} {:<14} {:<36} {:<22} {}  purpose: {}",
                        c.viewed_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        c.outcome,
                        c.viewer,
                        c.court.as_deref().unwrap_or("-"),
                        c.subject_id.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                        c.view,
                        c.role,
                        c.purpose
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

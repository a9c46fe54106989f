//! `tracker auth hash`: a password hash for `[auth.users.NAME] password`.
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Hash a password (read from standard input) for `[auth.users.NAME] password`.
    Hash,
}

pub fn run(command: &AuthCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuthCommand::Hash => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            println!("{}", crate::http::auth::hash_password(password.trim_end_matches(['\r', '\n'])));
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! The `tracker` binary: chooses the allocator (mimalloc, see `tracker::allocator`), parses the
//! command line and hands over to `tracker::cli`.
use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sets mimalloc's options before mimalloc starts: a constructor that runs before its own
/// (priority 101; lower numbers run first), since mimalloc reserves its first arena as it starts.
/// An ELF section: elsewhere mimalloc runs with its defaults.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array.00100")]
static BEFORE_THE_ALLOCATOR_STARTS: extern "C" fn() = {
    extern "C" fn configure() {
        tracker::allocator::keep_memory_small();
    }
    configure
};

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tracker: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run())
}

async fn run() -> ExitCode {
    let cli = tracker::cli::Cli::parse();
    match tracker::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tracker: {}", said_once(&e));
            if let Some(hint) = tracker::cli::services_hint(&e) {
                eprintln!("{hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: an error whose message already quotes its cause
/// ("configuration: missing field x") is not followed by the cause again.
fn said_once(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let message = cause.to_string();
        if out.contains(&message) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&message);
    }
    out
}

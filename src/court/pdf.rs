//! The bench summary and the bench pack as PDF, printed from the very page a court user sees.
//!
//! Laying out HTML and CSS paged media (`@page`, page breaks, the SVG chart) is a browser's job
//! and no Rust crate does it faithfully, so the hub prints through a headless Chromium
//! (`court.pdf_browser`). It is run bounded: one print at a time, a time limit after which it is
//! killed, a scratch profile removed afterwards, and no network (the page is the hub's own
//! escaped HTML, with no script and nothing to fetch). Without a browser the PDF is refused with a
//! message saying how to get one; the pages themselves print from any browser.
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::settings::CourtSettings;

/// One print at a time: a Chromium takes a few hundred MB and a core while it prints.
static PRINTING: Semaphore = Semaphore::const_new(1);

/// The largest PDF the hub hands back (a pack of a very busy day is a few MB).
const MAX_PDF_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(
        "no browser to print PDFs with: install Chromium (Debian: apt-get install chromium) or set \
         court.pdf_browser to a Chromium or Chrome executable"
    )]
    NoBrowser,
    #[error("the browser did not print the PDF within {0} s")]
    TimedOut(u64),
    #[error("the browser failed to print the PDF: {0}")]
    Failed(String),
}

/// The browser to print with: the configured one, or the first Chromium found on `PATH`.
pub fn browser(settings: &CourtSettings) -> Option<PathBuf> {
    if !settings.pdf_browser.is_empty() {
        let path = PathBuf::from(&settings.pdf_browser);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser", "google-chrome", "chrome"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Prints `html` (a whole page) to PDF with the configured browser.
pub async fn print(settings: &CourtSettings, html: &str) -> Result<Vec<u8>, PdfError> {
    let browser = browser(settings).ok_or(PdfError::NoBrowser)?;
    let _turn = PRINTING.acquire().await.map_err(|e| PdfError::Failed(e.to_string()))?;
    let scratch = std::env::temp_dir().join(format!("tracker-pdf-{}", uuid::Uuid::new_v4().simple()));
    let printed = print_in(&browser, &scratch, html, settings.pdf_timeout_secs).await;
    let _ = tokio::fs::remove_dir_all(&scratch).await;
    printed
}

async fn print_in(browser: &Path, scratch: &Path, html: &str, timeout_secs: u64) -> Result<Vec<u8>, PdfError> {
    let failed = |e: std::io::Error| PdfError::Failed(e.to_string());
    tokio::fs::create_dir_all(scratch.join("profile")).await.map_err(failed)?;
    let page = scratch.join("page.html");
    let out = scratch.join("page.pdf");
    tokio::fs::write(&page, html).await.map_err(failed)?;
    let mut command = tokio::process::Command::new(browser);
    command
        .arg("--headless")
        .arg("--disable-gpu")
        // The sandbox needs user namespaces, which containers and root often lack; the page is
        // the hub's own escaped HTML, without scripts, with the network closed: not a web page.
        // (`--blink-settings=scriptEnabled=false` is not used: with it headless printing writes
        // no file.)
        .arg("--no-sandbox")
        .arg("--no-first-run")
        .arg("--no-default-browser-check")
        .arg("--disable-extensions")
        .arg("--disable-background-networking")
        // No network: every host name unresolvable, everything else to a closed proxy. (Not
        // `--proxy-bypass-list=<-loopback>`: headless printing then never writes the file.)
        .arg("--host-resolver-rules=MAP * ~NOTFOUND")
        .arg("--proxy-server=127.0.0.1:9")
        .arg("--no-pdf-header-footer")
        .arg(format!("--user-data-dir={}", scratch.join("profile").display()))
        .arg(format!("--print-to-pdf={}", out.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(failed)?;
    let output = tokio::time::timeout(Duration::from_secs(timeout_secs), child.wait_with_output())
        .await
        .map_err(|_| PdfError::TimedOut(timeout_secs))?
        .map_err(failed)?;
    let size = tokio::fs::metadata(&out).await.map(|m| m.len()).unwrap_or(0);
    if !output.status.success() || size == 0 {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
        return Err(PdfError::Failed(format!("{} ({})", output.status, last.chars().take(300).collect::<String>())));
    }
    if size > MAX_PDF_BYTES {
        return Err(PdfError::Failed(format!("the PDF is {size} bytes, over {MAX_PDF_BYTES}")));
    }
    tokio::fs::read(&out).await.map_err(failed)
}

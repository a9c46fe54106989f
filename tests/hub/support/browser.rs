//! A browser for tests: Debian's Chromium driven through chromedriver (WebDriver), each session on
//! a chromedriver and profile of its own.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value as Json, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session on a chromedriver of its own.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    profile: PathBuf,
}

impl Browser {
    pub fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium chromium-driver; .ci/run installs them)");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if ureq::get(&format!("{base}/status")).call().is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = std::env::temp_dir().join(format!("chromium-{}", uuid::Uuid::new_v4().simple()));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display())]}}}});
        let created = post(&format!("{base}/session"), &caps);
        let session =
            created["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_string();
        Browser { driver, base, session, profile }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    pub fn go(&self, url: &str) {
        post(&self.url("/url"), &json!({"url": url}));
    }

    pub fn find(&self, css: &str) -> Option<String> {
        let found = post(&self.url("/element"), &json!({"using": "css selector", "value": css}));
        found["value"][ELEMENT].as_str().map(str::to_owned)
    }

    pub fn text(&self, css: &str) -> String {
        // The console refreshes itself every few seconds: an element found just before a refresh
        // is gone (ChromeDriver answers 404, stale element) by the time its text is asked for.
        // Find it again on the new page; mid-refresh it may not be found at all for a moment.
        for _ in 0..5 {
            if let Some(id) = self.find(css)
                && let Ok(mut res) = ureq::get(&self.url(&format!("/element/{id}/text"))).call()
            {
                let got: Json = res.body_mut().read_json().unwrap();
                return got["value"].as_str().unwrap_or_default().to_string();
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let raw = post(&self.url("/element"), &json!({"using": "css selector", "value": css}));
        panic!("{css} missing or stale five times running ({raw}):\n{}", self.source());
    }

    pub fn click(&self, css: &str) {
        let id = self.find(css).unwrap_or_else(|| panic!("no {css} on the page:\n{}", self.source()));
        post(&self.url(&format!("/element/{id}/click")), &json!({}));
    }

    pub fn source(&self) -> String {
        let got: Json = ureq::get(&self.url("/source")).call().unwrap().body_mut().read_json().unwrap();
        got["value"].as_str().unwrap_or_default().to_string()
    }

    /// The page printed as the browser prints it (WebDriver Print Page: A4, backgrounds, the
    /// page's own print CSS): the PDF's bytes.
    pub fn print_pdf(&self) -> Vec<u8> {
        use base64::Engine;
        let printed = post(&self.url("/print"), &json!({"page": {"width": 21.0, "height": 29.7}, "background": true}));
        let encoded = printed["value"].as_str().unwrap_or_else(|| panic!("no PDF: {printed}"));
        base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()
    }

    /// The viewport as a PNG.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let shot: Json = ureq::get(&self.url("/screenshot")).call().unwrap().body_mut().read_json().unwrap();
        base64::engine::general_purpose::STANDARD.decode(shot["value"].as_str().unwrap_or_default()).unwrap()
    }

    /// Sizes the window (for screenshots).
    pub fn resize(&self, width: u32, height: u32) {
        post(&self.url("/window/rect"), &json!({"width": width, "height": height}));
    }
}

/// How many pages a PDF has (its page objects).
pub fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.matches("/Type /Page").count() - text.matches("/Type /Pages").count()
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn post(url: &str, body: &Json) -> Json {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    agent.post(url).send_json(body).unwrap().body_mut().read_json().unwrap()
}

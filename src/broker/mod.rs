//! RabbitMQ and nothing else: connecting, the broker contract (names, provisioning), broker
//! users, and confirmed publishing. The consumers that feed the hub are in `runtime::consume`.
pub mod provision;
pub mod publish;
pub mod users;

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("broker: no answer for {0} in time")]
    Timeout(String),
    #[error("broker refused {what}: {why}")]
    Refused { what: String, why: String },
}

/// Every exchange and queue name, under one configurable prefix.
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Names {
        Names { prefix: prefix.to_string() }
    }
    pub fn inbound_exchange(&self) -> String {
        format!("{}.inbound", self.prefix)
    }
    pub fn outbound_exchange(&self) -> String {
        format!("{}.outbound", self.prefix)
    }
    pub fn dead_exchange(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    pub fn dead_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    pub fn inbound_queue(&self, agency: &str) -> String {
        format!("{}.in.{agency}", self.prefix)
    }
    pub fn outbound_queue(&self, agency: &str) -> String {
        format!("{}.out.{agency}", self.prefix)
    }
}

/// The largest AMQP frame the hub asks for, unless the URL names its own (`?frame_max=`). lapin
/// keeps two buffers of 32 frames per connection, written through, so RabbitMQ's default of
/// 128 KiB cost 8 MB of resident memory a connection (a hub holds eight or more). At 32 KiB they
/// take 2 MB; a larger message is carried in more frames.
pub const FRAME_MAX_BYTES: u32 = 32 * 1024;

/// Connects with a timeout (lapin can wait a long time on a dead host).
pub async fn connect(url: &str) -> Result<Connection, BrokerError> {
    let props = ConnectionProperties::default();
    let url = with_frame_max(url);
    match tokio::time::timeout(Duration::from_secs(10), Connection::connect(&url, props)).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(BrokerError::Timeout(redact_url(&url))),
    }
}

/// The URL asking for frames of at most [`FRAME_MAX_BYTES`], unless it names a size itself (or does
/// not parse: connecting then says why).
fn with_frame_max(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.query_pairs().any(|(key, _)| key == "frame_max") => {
            parsed.query_pairs_mut().append_pair("frame_max", &FRAME_MAX_BYTES.to_string());
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Closes a connection, giving up after 5 s: a connection that broke under us may never answer
/// the close, and nothing may wait on it forever.
pub async fn close(conn: &Connection, reason: &str) {
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.close(200, reason.into())).await;
}

/// The URL without its credentials, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("***");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(a URL that does not parse)".into(),
    }
}

/// What the management API needs from the AMQP URL: the virtual host as one path segment, and
/// the basic-auth header — user and password percent-decoded (a password with reserved
/// characters is written percent-encoded in the URL), guest/guest when the URL names none, the
/// default virtual host `/` when it names none.
pub fn management_access(amqp_url: &str) -> (String, String) {
    use base64::Engine;
    use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
    let parsed = url::Url::parse(amqp_url).ok();
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let (user, password) = match &parsed {
        Some(u) if !u.username().is_empty() => (decode(u.username()), decode(u.password().unwrap_or_default())),
        _ => ("guest".to_string(), "guest".to_string()),
    };
    let vhost = parsed
        .as_ref()
        .map(|u| decode(u.path().trim_start_matches('/')))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "/".into());
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    (utf8_percent_encode(&vhost, NON_ALPHANUMERIC).to_string(), format!("Basic {auth}"))
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn management_access_decodes_the_password_and_the_virtual_host() {
        let (vhost, auth) = management_access("amqp://ops:p%40ss%2Fw0rd@rabbit:5672/%2f");
        assert_eq!(vhost, "%2F");
        use base64::Engine;
        assert_eq!(auth, format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ops:p@ss/w0rd")));
        assert_eq!(management_access("amqp://u:p@h/tracker-ci-1").0, "tracker%2Dci%2D1");
        assert_eq!(management_access("amqp://h").0, "%2F");
        assert!(
            management_access("amqp://h").1.ends_with(&base64::engine::general_purpose::STANDARD.encode("guest:guest"))
        );
        assert_eq!(redact_url("amqp://ops:secret@rabbit:5672/%2f"), "amqp://***@rabbit:5672/%2f");
        assert!(!redact_url("postgres://u:secret@db/test").contains("secret"));
    }

    #[test]
    fn connections_ask_for_small_frames_unless_the_url_chooses() {
        assert_eq!(
            with_frame_max("amqp://u:p%40ss@rabbit:5672/%2f"),
            "amqp://u:p%40ss@rabbit:5672/%2f?frame_max=32768"
        );
        assert_eq!(with_frame_max("amqp://rabbit/%2f?heartbeat=30"), "amqp://rabbit/%2f?heartbeat=30&frame_max=32768");
        assert_eq!(with_frame_max("amqp://rabbit/%2f?frame_max=131072"), "amqp://rabbit/%2f?frame_max=131072");
        assert_eq!(with_frame_max("not a url"), "not a url");
    }
}

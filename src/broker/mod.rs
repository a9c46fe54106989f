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

/// Connects with a timeout (lapin can wait a long time on a dead host).
pub async fn connect(url: &str) -> Result<Connection, BrokerError> {
    let props = ConnectionProperties::default();
    match tokio::time::timeout(Duration::from_secs(10), Connection::connect(url, props)).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(BrokerError::Timeout(redact_url(url))),
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
}

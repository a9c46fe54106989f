//! One broker user per agency, made through the RabbitMQ management API: it may publish only
//! under its own inbound routing keys and read only its own outbound queue (configure nothing).
//! Passwords are generated once and kept in a credentials file (agency -> [user, password]) that
//! provisioning reuses, so running it again changes nothing.
use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use super::Names;
use crate::settings::Settings;

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("management API {what}: {why}")]
    Api { what: String, why: String },
    #[error("credentials file {0}: {1}")]
    File(String, String),
}

/// agency id -> (broker user, password)
pub type Credentials = BTreeMap<crate::domain::names::AgencyId, (String, String)>;

/// The broker user an agency publishes as.
pub fn user_name(settings: &Settings, agency: &str) -> String {
    format!("{}{agency}", settings.broker.user_prefix)
}

/// Escapes a name for use inside a permission regular expression.
fn literal(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_string() } else { format!("\\{c}") })
        .collect()
}

fn put(settings: &Settings, path: &str, body: serde_json::Value, auth: &str) -> Result<(), UsersError> {
    let url = format!("{}{path}", settings.broker.management_url.trim_end_matches('/'));
    ureq::put(&url).header("Authorization", auth).send_json(body).map_err(|e| UsersError::Api {
        what: format!("PUT {path}"),
        why: format!("{e} (is the management plugin enabled? rabbitmq-plugins enable rabbitmq_management)"),
    })?;
    Ok(())
}

/// Creates or updates every agency's user and permissions; writes new passwords to `creds_file`.
pub fn provision_users(settings: &Settings, creds_file: &Path) -> Result<Credentials, UsersError> {
    let file = creds_file.display().to_string();
    let mut creds: Credentials = match std::fs::read_to_string(creds_file) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| UsersError::File(file.clone(), e.to_string()))?,
        Err(_) => BTreeMap::new(),
    };
    let names = Names::new(&settings.broker.prefix);
    let (vhost, auth) = super::management_access(&settings.broker.url);
    for agency in settings.agencies.keys() {
        let user = user_name(settings, agency);
        let password = match creds.get(agency) {
            Some((u, p)) if *u == user => p.clone(),
            _ => uuid::Uuid::new_v4().simple().to_string(),
        };
        put(settings, &format!("/api/users/{user}"), json!({"password": password, "tags": ""}), &auth)?;
        put(
            settings,
            &format!("/api/permissions/{vhost}/{user}"),
            json!({
                "configure": "^$",
                "write": format!("^{}$", literal(&names.inbound_exchange())),
                "read": format!("^{}$", literal(&names.outbound_queue(agency))),
            }),
            &auth,
        )?;
        // Topic permissions: the only routing keys it may publish under are its own.
        put(
            settings,
            &format!("/api/topic-permissions/{vhost}/{user}"),
            json!({"exchange": names.inbound_exchange(), "write": format!("^{}\\.", literal(agency)), "read": "^$"}),
            &auth,
        )?;
        creds.insert(agency.clone(), (user, password));
    }
    let text = serde_json::to_string_pretty(&creds).unwrap_or_default();
    std::fs::write(creds_file, text + "\n").map_err(|e| UsersError::File(file.clone(), e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(creds_file, std::fs::Permissions::from_mode(0o600));
    }
    Ok(creds)
}

/// Deletes the agency users (tests clean up after themselves).
pub fn delete_users(settings: &Settings) -> Result<(), UsersError> {
    let (_, auth) = super::management_access(&settings.broker.url);
    for agency in settings.agencies.keys() {
        let user = user_name(settings, agency);
        let url = format!("{}/api/users/{user}", settings.broker.management_url.trim_end_matches('/'));
        ureq::delete(&url)
            .header("Authorization", &auth)
            .call()
            .map_err(|e| UsersError::Api { what: format!("DELETE /api/users/{user}"), why: e.to_string() })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_patterns_match_only_the_literal_name() {
        assert_eq!(literal("tracker.out.police-05"), "tracker\\.out\\.police-05");
        let (vhost, auth) = crate::broker::management_access("amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(vhost, "%2F");
        assert_eq!(auth, "Basic Z3Vlc3Q6Z3Vlc3Q=");
        assert_eq!(crate::broker::management_access("amqp://u:p@h:5672/ci").0, "ci");
    }
}

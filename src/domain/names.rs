//! The names the hub passes around most, as types of their own so that an agency id cannot be
//! handed where a message id is expected: `AgencyId` (a configured agency, e.g. `police-05`),
//! `ConnectorName` (a connector file's name, e.g. `police-custody`) and `MessageId` (the
//! publisher's message id, or the digest the hub gives a message without one). Each is text
//! underneath: stored as text, serialised as a string, and readable as `&str`.
use std::fmt;
use std::ops::Deref;

macro_rules! text_name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(text: impl Into<String>) -> $name {
                $name(text.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> $name {
                $name(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> $name {
                $name(text.to_string())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        // Maps keyed by the name are looked up with plain text (a routing key's agency, a row).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

text_name!(
    /// A configured agency's id (`[agencies.<id>]`), e.g. `police-05`.
    AgencyId
);
text_name!(
    /// A connector's name (`connectors/<name>.toml`), e.g. `police-custody`.
    ConnectorName
);
text_name!(
    /// A message's id: the publisher's, or `sha256:` of routing key and body when it gave none.
    MessageId
);

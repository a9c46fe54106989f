//! Admission, before a payload is read: the routing key's agency must be the queue's, the
//! publisher's broker user that agency's, the connector one the agency declared, and the size
//! within the limit. A message not admitted is refused whole, with the reason.
use super::message::Inbound;
use crate::connectors::{Refusal, RefusalCode};
use crate::hub::Hub;

impl Hub {
    /// Checks the message may be read at all: who sent it, with which connector, how big.
    pub(super) fn admit(&self, msg: &Inbound, key_agency: &str, connector: &str) -> Result<(), Refusal> {
        if msg.queue_agency != key_agency {
            return Err(Refusal::new(
                RefusalCode::WrongAgency,
                format!(
                    "routing key {} names agency {key_agency}, but arrived on {}'s queue",
                    msg.routing_key, msg.queue_agency
                ),
            ));
        }
        self.admit_publisher(msg, key_agency)?;
        let agency = self.settings.agency(key_agency).ok_or_else(|| {
            Refusal::new(RefusalCode::UnknownAgency, format!("agency {key_agency} is not configured"))
        })?;
        if !agency.connectors.iter().any(|c| c == connector) {
            return Err(Refusal::new(
                RefusalCode::UnknownConnector,
                format!(
                    "agency {key_agency} does not publish with connector {connector:?} (it uses {})",
                    agency.connectors.join(", ")
                ),
            ));
        }
        let limit = self.settings.limits.max_message_bytes;
        if msg.body.len() > limit {
            return Err(Refusal::new(
                RefusalCode::TooLarge,
                format!("message is {} bytes; the limit is {limit}", msg.body.len()),
            ));
        }
        Ok(())
    }

    /// A message published by an agency's broker user must be under that agency's own key.
    /// RabbitMQ checks that `user_id` is the connection's user, so it is the one thing about the
    /// publisher the broker guarantees; with `broker.require_user_id` a message without it, or
    /// from a user that is no agency's, is refused too.
    fn admit_publisher(&self, msg: &Inbound, key_agency: &str) -> Result<(), Refusal> {
        let prefix = self.settings.broker.user_prefix.as_str();
        let Some(user) = msg.user_id.as_deref() else {
            if self.settings.broker.require_user_id {
                return Err(Refusal::new(
                    RefusalCode::WrongAgency,
                    format!(
                        "no user_id: agencies publish as their own broker users, so a message under {} must carry \
                         user_id {prefix}{key_agency}",
                        crate::connectors::limits::printable(&msg.routing_key)
                    ),
                ));
            }
            return Ok(());
        };
        let user_agency = user.strip_prefix(prefix).filter(|a| self.settings.agency(a).is_some());
        match user_agency {
            Some(agency) if agency == key_agency => Ok(()),
            Some(_) => Err(Refusal::new(
                RefusalCode::WrongAgency,
                format!(
                    "published by broker user {} under agency {key_agency}'s routing key",
                    crate::connectors::limits::printable(user)
                ),
            )),
            None if self.settings.broker.require_user_id => Err(Refusal::new(
                RefusalCode::WrongAgency,
                format!(
                    "published by broker user {}, which is no agency's user, under agency {key_agency}'s routing key",
                    crate::connectors::limits::printable(user)
                ),
            )),
            None => Ok(()),
        }
    }
}

//! One inbound message, from receipt to the point it may be acknowledged: archive the raw
//! payload, recognise a redelivery, read it (admit, connector, schemas), store it all and decide
//! its sharing in one transaction. The caller publishes the dead letters, then acks.
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use tracing::Instrument;

use super::apply::Applied;
use super::message::Inbound;
use super::record::Mode;
use crate::connectors::{Refusal, RefusalCode};
use crate::hub::Hub;
use crate::store::StoreError;
use crate::store::message::{Envelope, ReadyItem};

impl Hub {
    /// Processes one message. `Err` is transient only: nothing was lost, try again later.
    /// `earlier_deliveries` is how often the broker delivered it before without its being
    /// committed (RabbitMQ's `x-delivery-count`); at `limits.max_deliveries` it is refused as
    /// poison without being read again.
    pub async fn process(&self, msg: &Inbound, earlier_deliveries: u32) -> Result<Applied, StoreError> {
        let now = self.clock.now();
        let env = msg.envelope();
        let span = tracing::info_span!("message", agency = %env.agency, connector = %env.connector, message_id = %env.message_id);
        self.process_in_span(msg, env, earlier_deliveries, now).instrument(span).await
    }

    async fn process_in_span(
        &self,
        msg: &Inbound,
        env: Envelope,
        earlier_deliveries: u32,
        now: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        let archive_id =
            crate::store::archive::archive(&self.pool, &env, &msg.body, &msg.archive_headers(), now).await?;
        if crate::store::inbox::is_processed(&self.pool, &env.agency, &env.message_id).await? {
            tracing::info!("already processed: nothing changes");
            return Ok(Applied::Duplicate {
                dead_letters: crate::store::dead_letters::pending_dead_letters(
                    &self.pool,
                    &env,
                    self.settings.limits.dead_letter_body_bytes,
                )
                .await?,
            });
        }
        let limit = self.settings.limits.max_deliveries;
        let items = if earlier_deliveries >= limit {
            tracing::error!(earlier_deliveries, "refusing a message that was never committed: poison");
            let refusal = Refusal::new(
                RefusalCode::Poison,
                format!(
                    "delivered {earlier_deliveries} times before without being committed (the hub stopped or \
                     failed while it was in hand; limits.max_deliveries is {limit}); not read again: see the \
                     hub's log at the time it arrived, fix, then replay"
                ),
            );
            vec![ReadyItem::Refused { position: 0, refusal, raw: msg.body.clone() }]
        } else {
            self.read_off_runtime(msg, &env, now).await
        };
        let applied = match super::apply::apply(&self.pool, &self.sharing, &env, archive_id, &items, now, Mode::Arrival)
            .await
        {
            Err(StoreError::Permanent(e)) => self.refuse_what_the_store_refused(&env, archive_id, msg, &e, now).await?,
            other => other?,
        };
        if matches!(applied, Applied::Stored { queued, .. } if queued > 0) {
            self.publisher_wakeup.notify_one();
        }
        if let Applied::Stored { events, refused, kept, conflicts, .. } = &applied {
            tracing::info!(events, refused, kept, conflicts, "stored");
        }
        Ok(applied)
    }

    /// The store refused what the connector accepted (a defect: a value it cannot hold). The
    /// message is refused whole, with the store's reason, in a transaction of its own, so it is
    /// recorded, dead-lettered and acknowledged instead of being delivered again and again.
    async fn refuse_what_the_store_refused(
        &self,
        env: &Envelope,
        archive_id: i64,
        msg: &Inbound,
        error: &sqlx::Error,
        now: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        tracing::error!("the store refused a message the connector accepted: {error}");
        let refusal = Refusal::new(
            RefusalCode::StoreRefused,
            format!(
                "the store refused this message, so none of it was applied: {error}; a defect in Tracker's \
                 checks: report it with this message"
            ),
        );
        let items = [ReadyItem::Refused { position: 0, refusal, raw: msg.body.clone() }];
        super::apply::apply(&self.pool, &self.sharing, env, archive_id, &items, now, Mode::Arrival).await
    }

    /// Reads an archived message again through its connector (a replay after a connector fix):
    /// what now applies is stored (event ids keep it idempotent), what still fails stays refused.
    pub async fn reprocess(&self, archive_id: i64) -> Result<Applied, StoreError> {
        let now = self.clock.now();
        let (agency, routing_key, archived_id, body, headers) =
            crate::store::archive::archived(&self.pool, archive_id).await?;
        let msg = Inbound {
            queue_agency: agency.into(),
            routing_key,
            message_id: Some(archived_id),
            user_id: headers.get("user_id").and_then(Json::as_str).map(str::to_owned),
            body,
        };
        let env = msg.envelope();
        let items = self.read(&msg, &env, now);
        let applied =
            super::apply::apply(&self.pool, &self.sharing, &env, archive_id, &items, now, Mode::Reprocess).await?;
        if matches!(applied, Applied::Stored { queued, .. } if queued > 0) {
            self.publisher_wakeup.notify_one();
        }
        tracing::info!(agency = %env.agency, message_id = %env.message_id, archive_id, "reprocessed");
        Ok(applied)
    }
}

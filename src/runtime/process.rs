//! Inbound messages, from receipt to the point they may be acknowledged, a batch at a time (group
//! commit): the batch's raw payloads are archived and its redeliveries recognised (a statement
//! each), each message is read (admit, connector, schemas), then the whole batch is stored and its
//! sharing decided in one transaction — each run of one agency's messages together, under a
//! savepoint, and stored again message by message if the store refuses it, so that only the
//! message at fault is refused while the others commit. The caller publishes the dead letters,
//! then acks.
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::Acquire;
use tracing::Instrument;

use super::apply::Applied;
use super::message::Inbound;
use super::record::{Incoming, Mode};
use crate::connectors::{Refusal, RefusalCode};
use crate::hub::Hub;
use crate::store::StoreError;
use crate::store::message::{Envelope, ReadyItem};

/// One message of a batch, read and ready to store (or recognised as committed before). Its
/// payload stays with the message (wanted again only for a refusal if the store refuses it).
enum Prepared {
    Fresh { env: Envelope, archive_id: i64, items: Vec<ReadyItem>, now: DateTime<Utc> },
    Duplicate { env: Envelope },
}

impl Prepared {
    fn agency(&self) -> &str {
        match self {
            Prepared::Fresh { env, .. } | Prepared::Duplicate { env } => &env.agency,
        }
    }
}

/// A message of a run to store: its place in the batch, envelope, archive id, items, receipt
/// time and payload.
type FreshMessage<'a> = (usize, &'a Envelope, i64, &'a [ReadyItem], DateTime<Utc>, &'a [u8]);

/// What became of one message of a batch.
pub type Outcome = Result<Applied, StoreError>;

/// A batch archived and read, not yet stored: what [`Hub::store_batch`] commits. Owns nothing of
/// the messages, so the next batch can be read while this one is stored.
pub struct ReadBatch {
    prepared: Vec<Prepared>,
}

impl ReadBatch {
    /// Adds the messages read after these (a consumer reads what arrives while a batch is
    /// stored in pieces, and stores them as one batch).
    pub fn append(&mut self, later: ReadBatch) {
        self.prepared.extend(later.prepared);
    }
}

/// The places of the batch's messages not committed before, one run per agency (in the order
/// each agency first appears), each in batch order.
fn runs_by_agency(prepared: &[Prepared]) -> Vec<Vec<usize>> {
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for (i, p) in prepared.iter().enumerate().filter(|(_, p)| matches!(p, Prepared::Fresh { .. })) {
        match runs.iter_mut().find(|run| run.first().is_some_and(|f| prepared[*f].agency() == p.agency())) {
            Some(run) => run.push(i),
            None => runs.push(vec![i]),
        }
    }
    runs
}

impl Hub {
    /// Processes one message. `Err` is transient only: nothing was lost, try again later.
    /// `earlier_deliveries` is how often the broker delivered it before without its being
    /// committed (RabbitMQ's `x-delivery-count`); at `limits.max_deliveries` it is refused as
    /// poison without being read again.
    pub async fn process(&self, msg: &Inbound, earlier_deliveries: u32) -> Result<Applied, StoreError> {
        let mut outcomes = self.process_batch(&[(msg, earlier_deliveries)]).await?;
        outcomes.pop().unwrap_or_else(|| Ok(Applied::Duplicate { dead_letters: Vec::new() }))
    }

    /// Processes messages of one queue, in order, in one transaction. `Err` is transient: nothing
    /// of the batch was committed. Otherwise one outcome per message, in order; an `Err` outcome
    /// is a message not even its refusal could be stored for (the caller rejects it alone).
    pub async fn process_batch(&self, msgs: &[(&Inbound, u32)]) -> Result<Vec<Outcome>, StoreError> {
        let read = self.read_batch(msgs).await?;
        self.store_batch(msgs, read).await
    }

    /// The first half of [`Hub::process_batch`], which needs no transaction: archives every
    /// payload, recognises messages committed before and reads the rest. A consumer reads its
    /// next batch with this while the one before is stored.
    pub async fn read_batch(&self, msgs: &[(&Inbound, u32)]) -> Result<ReadBatch, StoreError> {
        let now = self.clock.now();
        let envelopes: Vec<Envelope> = msgs.iter().map(|(msg, _)| msg.envelope()).collect();
        // Every payload is archived first, in as few statements as their size allows, and kept
        // whatever happens next.
        let payloads: Vec<(&Envelope, &[u8], Json)> = msgs
            .iter()
            .zip(&envelopes)
            .map(|((msg, _), env)| (env, msg.body.as_slice(), msg.archive_headers()))
            .collect();
        let (archive_ids, committed_before): (Vec<i64>, Vec<bool>) =
            crate::store::archive::archive_many(&self.pool, &payloads, now).await?.into_iter().unzip();
        let prepared = self.read_messages(msgs, envelopes, archive_ids, committed_before, now).await;
        Ok(ReadBatch { prepared })
    }

    /// The second half of [`Hub::process_batch`]: stores and decides what `read` holds of `msgs`
    /// (the same messages, in the same order) in one transaction.
    pub async fn store_batch(&self, msgs: &[(&Inbound, u32)], read: ReadBatch) -> Result<Vec<Outcome>, StoreError> {
        let prepared = read.prepared;
        debug_assert_eq!(prepared.len(), msgs.len(), "a batch is stored with the messages it was read from");
        let bodies: Vec<&[u8]> = msgs.iter().map(|(msg, _)| msg.body.as_slice()).collect();
        let mut tx = crate::store::begin_batch(&self.pool).await?;
        let mut outcomes: Vec<Option<Outcome>> = (0..prepared.len()).map(|_| None).collect();
        // Each agency's messages are stored and decided together, in their order (a consumer's
        // batch is one agency's; a load's mixes them). The order between agencies changes nothing
        // decided: who is who and what each recipient may see are judged over the whole set of
        // records, in event time. A message committed before is skipped.
        for (n, run) in runs_by_agency(&prepared).iter().enumerate() {
            if n > 0 {
                crate::store::next_run(&mut tx).await?;
            }
            self.store_run(&mut tx, &prepared, &bodies, run, &mut outcomes).await?;
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(outcomes.len());
        let mut queued_any = false;
        for (p, outcome) in prepared.iter().zip(outcomes) {
            let env = match p {
                Prepared::Fresh { env, .. } | Prepared::Duplicate { env } => env,
            };
            out.push(match outcome {
                Some(Ok(applied)) => {
                    if let Applied::Stored { events, refused, kept, conflicts, queued, .. } = &applied {
                        queued_any |= *queued > 0;
                        tracing::info!(agency = %env.agency, message_id = %env.message_id, events, refused, kept, conflicts, "stored");
                    }
                    Ok(applied)
                }
                Some(Err(e)) => Err(e),
                // Committed before (by an earlier delivery, or another hub process): dead letters
                // not yet confirmed are published again.
                None => Ok(Applied::Duplicate {
                    dead_letters: crate::store::dead_letters::pending_dead_letters(
                        &self.pool,
                        env,
                        self.settings.limits.dead_letter_body_bytes,
                    )
                    .await?,
                }),
            });
        }
        if queued_any {
            self.publisher_wakeup.notify_one();
        }
        Ok(out)
    }

    /// Reads the messages not committed before (refusing as poison, without reading it, one
    /// delivered too often), all of them off the async workers at once.
    async fn read_messages(
        &self,
        msgs: &[(&Inbound, u32)],
        envelopes: Vec<Envelope>,
        archive_ids: Vec<i64>,
        committed_before: Vec<bool>,
        now: DateTime<Utc>,
    ) -> Vec<Prepared> {
        let limit = self.settings.limits.max_deliveries;
        let to_read: Vec<(&Inbound, &Envelope)> = msgs
            .iter()
            .zip(&envelopes)
            .zip(&committed_before)
            .filter(|(((_, earlier), _), seen)| !**seen && *earlier < limit)
            .map(|(((msg, _), env), _)| (*msg, env))
            .collect();
        let mut read = self.read_many_off_runtime(&to_read, now).await.into_iter();
        let mut prepared = Vec::with_capacity(msgs.len());
        for (((msg, earlier_deliveries), env), (archive_id, seen)) in
            msgs.iter().zip(envelopes).zip(archive_ids.into_iter().zip(committed_before))
        {
            let span = tracing::info_span!("message", agency = %env.agency, connector = %env.connector, message_id = %env.message_id);
            let _entered = span.enter();
            if seen {
                tracing::info!("already processed: nothing changes");
                prepared.push(Prepared::Duplicate { env });
                continue;
            }
            let items = if *earlier_deliveries >= limit {
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
                read.next().unwrap_or_default()
            };
            prepared.push(Prepared::Fresh { env, archive_id, items, now });
        }
        prepared
    }

    /// Stores and decides a run of one agency's messages (`run`: their places in `prepared`)
    /// under the run's savepoint (taken by the caller), each statement once for the run. Should
    /// the store refuse it, the run is undone and stored again message by message, so that only
    /// the message at fault is refused.
    async fn store_run(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        prepared: &[Prepared],
        bodies: &[&[u8]],
        run: &[usize],
        outcomes: &mut [Option<Outcome>],
    ) -> Result<(), StoreError> {
        let fresh: Vec<FreshMessage> = run
            .iter()
            .filter_map(|i| match &prepared[*i] {
                Prepared::Fresh { env, archive_id, items, now } => {
                    Some((*i, env, *archive_id, items.as_slice(), *now, bodies[*i]))
                }
                Prepared::Duplicate { .. } => None,
            })
            .collect();
        let Some(now) = fresh.first().map(|f| f.4) else { return Ok(()) };
        let incoming: Vec<Incoming> = fresh
            .iter()
            .map(|(_, env, archive_id, items, ..)| Incoming { env, archive_id: *archive_id, items })
            .collect();
        let applied = {
            let span = match fresh.as_slice() {
                [(_, env, ..)] => {
                    tracing::info_span!("message", agency = %env.agency, connector = %env.connector, message_id = %env.message_id)
                }
                _ => tracing::Span::none(),
            };
            super::apply::apply_run(tx, &self.sharing, &incoming, now, Mode::Arrival).instrument(span).await
        };
        match applied {
            Ok(applied) => {
                for ((i, ..), applied) in fresh.iter().zip(applied) {
                    outcomes[*i] = applied.map(Ok);
                }
            }
            Err(StoreError::Permanent(e)) => {
                crate::store::undo_run(tx).await?;
                tracing::warn!(
                    messages = fresh.len(),
                    "the store refused a batch: storing its messages one by one: {e}"
                );
                for (i, env, archive_id, items, now, body) in &fresh {
                    let span = tracing::info_span!("message", agency = %env.agency, connector = %env.connector, message_id = %env.message_id);
                    outcomes[*i] = self.store_one(tx, env, *archive_id, items, *now, body).instrument(span).await?;
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Stores and decides one message of the batch under its own savepoint. `None`: the inbox
    /// already held it. `Some(Err)`: not even its refusal could be stored. `Err`: transient.
    async fn store_one(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        env: &Envelope,
        archive_id: i64,
        items: &[ReadyItem],
        now: DateTime<Utc>,
        body: &[u8],
    ) -> Result<Option<Outcome>, StoreError> {
        let mut savepoint = tx.begin().await?;
        match super::apply::apply_in(&mut savepoint, &self.sharing, env, archive_id, items, now, Mode::Arrival).await {
            Ok(Some(applied)) => {
                savepoint.commit().await?;
                Ok(Some(Ok(applied)))
            }
            Ok(None) => {
                savepoint.rollback().await?;
                Ok(None)
            }
            Err(StoreError::Permanent(e)) => {
                savepoint.rollback().await?;
                self.refuse_what_the_store_refused(tx, env, archive_id, body, &e, now).await
            }
            Err(e) => Err(e),
        }
    }

    /// The store refused what the connector accepted (a defect: a value it cannot hold). The
    /// message is refused whole, with the store's reason, under a savepoint of its own, so it is
    /// recorded, dead-lettered and acknowledged instead of being delivered again and again, and
    /// the rest of its batch commits.
    async fn refuse_what_the_store_refused(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        env: &Envelope,
        archive_id: i64,
        body: &[u8],
        error: &sqlx::Error,
        now: DateTime<Utc>,
    ) -> Result<Option<Outcome>, StoreError> {
        tracing::error!("the store refused a message the connector accepted: {error}");
        let refusal = Refusal::new(
            RefusalCode::StoreRefused,
            format!(
                "the store refused this message, so none of it was applied: {error}; a defect in Tracker's \
                 checks: report it with this message"
            ),
        );
        let items = [ReadyItem::Refused { position: 0, refusal, raw: body.to_vec() }];
        let mut savepoint = tx.begin().await?;
        match super::apply::apply_in(&mut savepoint, &self.sharing, env, archive_id, &items, now, Mode::Arrival).await {
            Ok(applied) => {
                savepoint.commit().await?;
                Ok(applied.map(Ok))
            }
            Err(StoreError::Permanent(e)) => {
                savepoint.rollback().await?;
                Ok(Some(Err(StoreError::Permanent(e))))
            }
            Err(e) => Err(e),
        }
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
            traceparent: headers.get("traceparent").and_then(Json::as_str).map(str::to_owned),
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

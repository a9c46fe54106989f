//! The outbox: deliveries and notices decided and waiting for (or confirmed by) the broker.
//! Queued by sharing in the transaction that decided them; read by the publisher, the demo and the metrics.
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::names::AgencyId;

/// Deliveries decided and neither confirmed nor withheld at publish yet.
pub async fn backlog(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM outbox_unsent").fetch_one(pool).await
}

/// The backlog and when its oldest entry was decided.
pub async fn backlog_and_oldest(pool: &PgPool) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
    sqlx::query_as("SELECT count(*), min(o.decided_at) FROM outbox_unsent u JOIN outbox o ON o.id = u.id")
        .fetch_one(pool)
        .await
}

/// (recipient, deliveries confirmed).
pub async fn confirmed_deliveries(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT recipient, count(*) FROM outbox WHERE published_at IS NOT NULL AND kind = 'delivery'
         GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}

/// (recipient, kind, notices confirmed).
pub async fn confirmed_notices(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT recipient, kind, count(*) FROM outbox WHERE published_at IS NOT NULL AND kind <> 'delivery'
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
}

/// One confirmed delivery or notice as the demo lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct Published {
    pub recipient: String,
    /// The person's first known name, or `?`.
    pub person: String,
    /// The event type, or `RETRACTION of <event type>` (`ERASURE of …`) for a notice.
    pub what: String,
    pub catch_up: bool,
    pub withheld_fields: Vec<String>,
}

/// Everything confirmed, per recipient in publishing order.
pub async fn published(pool: &PgPool) -> Result<Vec<Published>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.recipient,
                coalesce((SELECT name FROM subject_details d WHERE d.subject_id = e.subject_id
                          ORDER BY first_seen_at LIMIT 1), '?') AS person,
                CASE o.kind WHEN 'delivery' THEN e.event_type ELSE upper(o.kind) || ' of ' || e.event_type END AS what,
                o.catch_up, o.withheld_fields
         FROM outbox o JOIN events e USING (event_id) WHERE o.published_at IS NOT NULL ORDER BY o.recipient, o.id",
    )
    .fetch_all(pool)
    .await
}

/// A delivery already queued for an (update, recipient), as a retraction notice names it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueuedDelivery {
    pub event_id: Uuid,
    pub recipient: AgencyId,
    pub message_id: Uuid,
    pub agreement: String,
    pub purpose: String,
    pub legal_basis: String,
}

/// Every delivery queued for these (update, recipient) pairs (`events[i]`, `recipients[i]`),
/// oldest first.
pub async fn queued_deliveries(
    tx: &mut Transaction<'_, Postgres>,
    events: &[Uuid],
    recipients: &[AgencyId],
) -> Result<Vec<QueuedDelivery>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.event_id, o.recipient, o.message_id, o.agreement, o.purpose, o.legal_basis
         FROM UNNEST($1::uuid[], $2::text[]) AS p(event_id, recipient)
         JOIN outbox o ON o.event_id = p.event_id AND o.recipient = p.recipient AND o.kind = 'delivery'
         ORDER BY o.id",
    )
    .bind(events)
    .bind(recipients)
    .fetch_all(&mut **tx)
    .await
}

/// A delivery of a record that moved to another person, not yet retracted, with what the log
/// needs of its update.
#[derive(sqlx::FromRow)]
pub struct LiveDelivery {
    #[sqlx(flatten)]
    pub delivery: QueuedDelivery,
    /// The person it went out under.
    pub subject_id: Option<Uuid>,
    pub event_type: String,
    pub data_class: String,
    pub agency: AgencyId,
    pub occurred_at: DateTime<Utc>,
}

/// The deliveries, not yet retracted, of records now under another person than the one they
/// went out under (`subjects[i]` the person of `events[i]` now; none while held).
pub async fn live_under_other_person(
    tx: &mut Transaction<'_, Postgres>,
    events: &[Uuid],
    subjects: &[Option<Uuid>],
) -> Result<Vec<LiveDelivery>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.event_id, o.recipient, o.message_id, o.agreement, o.purpose, o.legal_basis, o.subject_id,
                e.event_type, e.data_class, e.agency, e.occurred_at
         FROM UNNEST($1::uuid[], $2::uuid[]) AS m(event_id, subject_id)
         JOIN outbox o ON o.event_id = m.event_id AND o.kind = 'delivery' AND o.subject_id IS DISTINCT FROM m.subject_id
         JOIN events e ON e.event_id = o.event_id
         WHERE NOT EXISTS (SELECT 1 FROM outbox r WHERE r.refers_to = o.message_id)
         ORDER BY o.id",
    )
    .bind(events)
    .bind(subjects)
    .fetch_all(&mut **tx)
    .await
}

/// A delivery decided, to queue.
pub struct NewDelivery {
    pub event_id: Uuid,
    pub recipient: AgencyId,
    pub message_id: Uuid,
    pub subject_id: Option<Uuid>,
    pub withheld_fields: Vec<String>,
    pub agreement: String,
    pub purpose: String,
    pub legal_basis: String,
    /// The consent scope the delivery needs (re-checked at publish), if any.
    pub consent_scope: Option<String>,
    pub catch_up: bool,
}

/// Queues deliveries in order, one statement; a message id queued before is left as it is.
pub async fn queue_deliveries(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[NewDelivery],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO outbox (event_id, recipient, message_id, subject_id, withheld_fields, agreement, purpose,
            legal_basis, consent_scope, catch_up, decided_at)
         SELECT t.event_id, t.recipient, t.message_id, t.subject_id, t.withheld::text[],
                t.agreement, t.purpose, t.legal_basis, t.consent_scope, t.catch_up, $11
         FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::text[], $10::bool[]) WITH ORDINALITY
              AS t(event_id, recipient, message_id, subject_id, withheld, agreement, purpose, legal_basis, consent_scope, catch_up, n)
         ORDER BY t.n
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(rows.iter().map(|d| d.event_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|d| d.recipient.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|d| d.message_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|d| d.subject_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|d| super::text_array_literal(&d.withheld_fields)).collect::<Vec<_>>())
    .bind(rows.iter().map(|d| d.agreement.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|d| d.purpose.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|d| d.legal_basis.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|d| d.consent_scope.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|d| d.catch_up).collect::<Vec<_>>())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A retraction notice decided, to queue after the delivery it names.
pub struct NewRetraction<'a> {
    pub event_id: Uuid,
    pub subject_id: Option<Uuid>,
    pub message_id: Uuid,
    /// The delivery it retracts (recipient, agreement and its message id).
    pub delivery: &'a QueuedDelivery,
    /// The reason code the notice gives.
    pub reason: &'static str,
}

/// Queues retraction notices in order, one statement, under the agreement of the delivery each
/// retracts.
pub async fn queue_retractions(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[NewRetraction<'_>],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO outbox (kind, event_id, recipient, message_id, subject_id, withheld_fields, agreement, purpose,
            legal_basis, catch_up, decided_at, refers_to, notice_reason)
         SELECT 'retraction', t.event_id, t.recipient, t.message_id, t.subject_id, '{}', t.agreement, t.purpose,
                t.legal_basis, false, $10, t.refers_to, t.reason
         FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::uuid[],
                     $9::text[]) WITH ORDINALITY
              AS t(event_id, recipient, message_id, subject_id, agreement, purpose, legal_basis, refers_to, reason, n)
         ORDER BY t.n
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(rows.iter().map(|r| r.event_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.delivery.recipient.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.message_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.subject_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.delivery.agreement.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.delivery.purpose.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.delivery.legal_basis.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.delivery.message_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.reason).collect::<Vec<_>>())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A row waiting for the publisher: the decision, what to send, and (for a notice) whether the
/// delivery it names was ever sent.
#[derive(Debug, sqlx::FromRow)]
pub struct Pending {
    pub id: i64,
    pub event_id: Uuid,
    pub recipient: AgencyId,
    pub message_id: Uuid,
    pub subject_id: Option<Uuid>,
    pub withheld_fields: Vec<String>,
    pub agreement: String,
    pub purpose: String,
    pub legal_basis: String,
    pub consent_scope: Option<String>,
    pub catch_up: bool,
    pub decided_at: DateTime<Utc>,
    pub avro: Vec<u8>,
    /// The fingerprint of the schema `avro` was written with.
    pub schema_fingerprint: Vec<u8>,
    pub event_type: String,
    pub data_class: String,
    /// `delivery`, or a notice naming the delivery `refers_to`: `retraction` or `erasure`.
    pub kind: String,
    pub refers_to: Option<Uuid>,
    pub notice_reason: Option<String>,
    /// For a notice: the delivery it names was never sent (withheld at publish).
    pub nothing_sent: bool,
    /// For a delivery of a corrected record: the earlier delivery it corrects, and the changed
    /// fields the recipient may see.
    pub corrects: Option<Uuid>,
    pub corrected_fields: Option<Vec<String>>,
    /// The agency and message the update came in (its trace context is the message's).
    pub source_agency: String,
    pub source_message_id: String,
    /// The `traceparent` the message first came with, as archived, if it had one: a probe of the
    /// partial index `raw_archive_traced` (migration 0024) per row, in the same statement (it was
    /// a second statement for every batch the publisher read).
    pub inbound_traceparent: Option<String>,
}

/// The channel on which PostgreSQL tells, at each commit that added rows to publish, that there
/// are some (the trigger of migration 0038).
const NEW_ROWS: &str = "tracker_outbox";

/// A connection of its own that hears of every commit adding rows to publish, from any hub
/// process on this database.
pub async fn listen_for_new_rows(url: &str) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(NEW_ROWS).await?;
    Ok(listener)
}

/// Up to `limit` rows not yet confirmed nor withheld at publish (those `outbox_unsent` names,
/// migration 0036), in the order decided, each with its update's Avro encoding — of the outbox
/// `partitions` (of `of`) only, and after row `after` if given. A row's partition is its
/// person's (a notice's, the person of the delivery it retracts), so one publisher sends
/// everything about a person, in order.
pub async fn pending(
    pool: &PgPool,
    limit: i64,
    partitions: &[i32],
    of: i32,
    after: Option<i64>,
) -> Result<Vec<Pending>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.id, o.event_id, o.recipient, o.message_id, o.subject_id, o.withheld_fields, o.agreement, o.purpose,
                o.legal_basis, o.consent_scope, o.catch_up, o.decided_at, e.avro, e.schema_fingerprint, e.event_type, e.data_class,
                o.kind, o.refers_to, o.notice_reason, coalesce(r.withheld_at_publish IS NOT NULL AND r.published_at IS NULL, false) AS nothing_sent,
                o.corrects, o.corrected_fields, e.agency AS source_agency, e.message_id AS source_message_id,
                t.traceparent AS inbound_traceparent
         FROM (SELECT id FROM outbox_unsent
               WHERE id > coalesce($4, 0) AND person_byte % $3 = ANY($2)
               ORDER BY id LIMIT $1) u
         JOIN outbox o ON o.id = u.id JOIN events e USING (event_id)
         LEFT JOIN outbox r ON r.message_id = o.refers_to
         LEFT JOIN LATERAL (
             SELECT a.headers->>'traceparent' AS traceparent FROM raw_archive a
             WHERE a.agency = e.agency AND a.message_id = e.message_id AND a.headers ? 'traceparent'
             ORDER BY a.id LIMIT 1) t ON true
         ORDER BY u.id",
    )
    .bind(limit)
    .bind(partitions)
    .bind(of)
    .bind(after)
    .fetch_all(pool)
    .await
}

/// Marks rows the broker confirmed, each at the time its confirm was seen, and counts each row's
/// latency (decision to confirm) into the running totals the delivery-latency report reads, in
/// the same statement. A row confirmed again (published twice after a crash between confirm and
/// this mark) keeps its first time and is counted once. The outbox indexes neither column the
/// mark sets, so the new row versions stay on their pages (HOT) and no index is touched; a
/// trigger takes the rows out of `outbox_unsent`. Each row finds its time by a join with the
/// pairs (looking it up in the array of ids instead cost a scan of the array per row). The rows
/// are also named by `id = ANY($1)`, so that they are found through the primary key whatever the
/// planner thinks of the table: with the join alone, a plan made while the outbox was small read
/// the whole table for each mark (a hash join), and went on doing so as it grew.
pub async fn mark_published(pool: &PgPool, ids: &[i64], confirmed_at: &[DateTime<Utc>]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH settled AS (
             UPDATE outbox o SET published_at = c.confirmed_at
             FROM (SELECT DISTINCT ON (id) id, confirmed_at
                   FROM UNNEST($1::bigint[], $2::timestamptz[]) AS c(id, confirmed_at)
                   ORDER BY id, confirmed_at) c
             WHERE o.id = ANY($1) AND o.id = c.id AND o.published_at IS NULL
             RETURNING o.decided_at, o.recipient, o.published_at)
         INSERT INTO delivery_latencies AS l (day, recipient, bucket_ms, deliveries)
         SELECT (decided_at AT TIME ZONE 'Europe/London')::date, recipient, latency_bucket_ms(published_at - decided_at), count(*)
         FROM settled GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
         ON CONFLICT (day, recipient, bucket_ms) DO UPDATE SET deliveries = l.deliveries + excluded.deliveries",
    )
    .bind(ids)
    .bind(confirmed_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a row not sent because its decision changed at publish (logged in the same transaction).
pub async fn mark_withheld_at_publish(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET withheld_at_publish = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A delivery as the outbox holds it, for a recall: what it was, to whom, and whether it went.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub event_id: Uuid,
    pub recipient: String,
    pub subject_id: Option<Uuid>,
    pub agreement: String,
    pub purpose: String,
    pub legal_basis: String,
    pub catch_up: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub withheld_at_publish: Option<DateTime<Utc>>,
    pub event_type: String,
    pub data_class: String,
}

/// The delivery sent (or to be sent) with `message_id`, locked for the transaction.
pub async fn delivery_for_update(
    tx: &mut Transaction<'_, Postgres>,
    message_id: Uuid,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.id, o.event_id, o.recipient, o.subject_id, o.agreement, o.purpose, o.legal_basis, o.catch_up,
                o.published_at, o.withheld_at_publish, e.event_type, e.data_class
         FROM outbox o JOIN events e USING (event_id)
         WHERE o.message_id = $1 AND o.kind = 'delivery'
         FOR UPDATE OF o",
    )
    .bind(message_id)
    .fetch_optional(&mut **tx)
    .await
}

/// A delivery of a corrected record that stands (sent or to be sent, and not taken back by a
/// retraction or an erasure): who has the record, under which message id.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StandingDelivery {
    pub id: i64,
    pub event_id: Uuid,
    pub recipient: String,
    pub message_id: Uuid,
    pub subject_id: Option<Uuid>,
    pub agreement: String,
    pub purpose: String,
    pub legal_basis: String,
    pub withheld_fields: Vec<String>,
    pub catch_up: bool,
}

/// The standing deliveries of these updates, oldest first.
pub async fn standing_deliveries(
    tx: &mut Transaction<'_, Postgres>,
    events: &[Uuid],
) -> Result<Vec<StandingDelivery>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.id, o.event_id, o.recipient, o.message_id, o.subject_id, o.agreement, o.purpose, o.legal_basis,
                o.withheld_fields, o.catch_up
         FROM outbox o
         WHERE o.event_id = ANY($1) AND o.kind = 'delivery'
           AND NOT (o.withheld_at_publish IS NOT NULL AND o.published_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM outbox r WHERE r.refers_to = o.message_id AND r.kind IN ('retraction', 'erasure'))
         ORDER BY o.id",
    )
    .bind(events)
    .fetch_all(&mut **tx)
    .await
}

/// Marks the delivery `id` (of a corrected record) as correcting the earlier delivery
/// `corrects`, naming the fields that changed which its recipient may see.
pub async fn mark_correcting(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    corrects: Uuid,
    changed_fields: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET corrects = $2, corrected_fields = $3 WHERE id = $1")
        .bind(id)
        .bind(corrects)
        .bind(changed_fields)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The delivery a notice names: whose it was and what it rested on (the notice goes under the
/// same agreement).
pub struct NoticeTarget<'a> {
    pub event_id: Uuid,
    pub recipient: &'a str,
    pub subject_id: Option<Uuid>,
    pub agreement: &'a str,
    pub purpose: &'a str,
    pub legal_basis: &'a str,
    /// The delivery's message id.
    pub message_id: Uuid,
}

/// Queues a notice of `kind` (`erasure`, `correction`) naming `target`'s delivery, with its own
/// `notice_message_id` (derived from the delivery's, so at most one of a kind per delivery);
/// whether it was queued now.
pub async fn queue_notice(
    tx: &mut Transaction<'_, Postgres>,
    kind: &str,
    target: &NoticeTarget<'_>,
    notice_message_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let queued = sqlx::query(
        "INSERT INTO outbox (kind, event_id, recipient, message_id, subject_id, withheld_fields, agreement, purpose,
            legal_basis, catch_up, decided_at, refers_to, notice_reason)
         VALUES ($1, $2, $3, $4, $5, '{}', $6, $7, $8, false, $9, $10, $11)
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(kind)
    .bind(target.event_id)
    .bind(target.recipient)
    .bind(notice_message_id)
    .bind(target.subject_id)
    .bind(target.agreement)
    .bind(target.purpose)
    .bind(target.legal_basis)
    .bind(now)
    .bind(target.message_id)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(queued.rows_affected() == 1)
}

impl StandingDelivery {
    pub fn as_target(&self) -> NoticeTarget<'_> {
        NoticeTarget {
            event_id: self.event_id,
            recipient: &self.recipient,
            subject_id: self.subject_id,
            agreement: &self.agreement,
            purpose: &self.purpose,
            legal_basis: &self.legal_basis,
            message_id: self.message_id,
        }
    }
}

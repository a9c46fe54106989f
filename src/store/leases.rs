//! Work shared between hub processes, by PostgreSQL session advisory locks on a connection of the
//! process's own: a process that holds the lock on an item (an agency's inbound queue, a partition
//! of the outbox) does that work, and no other process does. Each process also holds a lock that
//! says it takes part, so every process can count how many share the work and take its fair share.
//! A process that dies loses its connection, and with it every lock it held: the others take the
//! work over at their next look. Locks are per database, so hubs on other databases (sandboxes,
//! tests) never meet.
use std::collections::BTreeSet;

use sqlx::{Connection, PgConnection, PgPool};

/// A kind of work shared out: each has a lock class for taking part and one for its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Agencies' inbound queues (item: the agency's place in the configuration's sorted list).
    Queues,
    /// Partitions of the outbox (item: the partition number).
    Publishing,
}

impl Work {
    /// (class of the "taking part" locks, class of the item locks): small positive numbers
    /// that no other advisory lock of the hub uses (those take one 64-bit key).
    fn classes(self) -> (i32, i32) {
        match self {
            Work::Queues => (0x7472_0001, 0x7472_0002),
            Work::Publishing => (0x7472_0003, 0x7472_0004),
        }
    }
}

/// This process's part in one kind of work.
pub struct Leases {
    conn: PgConnection,
    work: Work,
    held: BTreeSet<i32>,
}

impl Leases {
    /// Takes part in `work` on a connection of its own (kept until `leave`, or the process ends).
    pub async fn join(pool: &PgPool, work: Work) -> Result<Leases, sqlx::Error> {
        let mut conn = pool.acquire().await?.detach();
        let (taking_part, _) = work.classes();
        // Any number that no other process of this database holds at the moment.
        let mut me = 0;
        for _ in 0..16 {
            let candidate =
                i32::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..4].try_into().unwrap_or_default()) & i32::MAX;
            let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                .bind(taking_part)
                .bind(candidate)
                .fetch_one(&mut conn)
                .await?;
            if free {
                me = candidate;
                break;
            }
        }
        tracing::debug!(?work, me, "taking part in shared work");
        Ok(Leases { conn, work, held: BTreeSet::new() })
    }

    /// How many processes take part in this work now, this one included.
    pub async fn processes(&mut self) -> Result<usize, sqlx::Error> {
        let (taking_part, _) = self.work.classes();
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid::int8 = $1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .bind(i64::from(taking_part))
        .fetch_one(&mut self.conn)
        .await?;
        Ok(usize::try_from(n).unwrap_or(1).max(1))
    }

    /// This process's fair share of `items` items: all of them divided among the processes taking
    /// part, rounded up (so that together they cover every item).
    pub async fn fair_share(&mut self, items: usize) -> Result<usize, sqlx::Error> {
        let processes = self.processes().await?;
        Ok(items.div_ceil(processes))
    }

    /// Takes `item` if no other process holds it.
    pub async fn try_take(&mut self, item: i32) -> Result<bool, sqlx::Error> {
        if self.held.contains(&item) {
            return Ok(true);
        }
        let (_, items) = self.work.classes();
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(items)
            .bind(item)
            .fetch_one(&mut self.conn)
            .await?;
        if taken {
            self.held.insert(item);
        }
        Ok(taken)
    }

    /// Gives `item` up, for another process to take (call once its work here has stopped).
    pub async fn give_up(&mut self, item: i32) -> Result<(), sqlx::Error> {
        if self.held.remove(&item) {
            let (_, items) = self.work.classes();
            sqlx::query("SELECT pg_advisory_unlock($1, $2)").bind(items).bind(item).execute(&mut self.conn).await?;
        }
        Ok(())
    }

    /// The items this process holds.
    pub fn held(&self) -> &BTreeSet<i32> {
        &self.held
    }

    /// Stops taking part: every lock is released with the connection.
    pub async fn leave(self) {
        let _ = self.conn.close().await;
    }
}

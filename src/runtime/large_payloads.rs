//! A few threads, at a lower CPU priority than the rest of the hub, that read large payloads.
//! Reading a megabyte file takes a core for a while; on a small machine that core is one the
//! broker, the database and every other agency's small messages also need. Lowering the
//! priority of just this work lets the scheduler run everyone else first, so one agency's large
//! (or hostile) files cost the others as little as possible. Small payloads are read on tokio's
//! blocking pool as before: they are quick, and must not queue behind a large one.
use std::sync::{Arc, Mutex, OnceLock, mpsc};

/// A payload at least this large is read on these threads.
pub const LARGE_PAYLOAD_BYTES: usize = 256 * 1024;

/// Threads in the pool: two large payloads (from two agencies) are read at once.
const THREADS: usize = 2;

/// The nice value of the pool's threads (0 is normal, 19 the lowest priority).
const NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

fn pool() -> &'static Mutex<mpsc::Sender<Job>> {
    static POOL: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..THREADS {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new().name(format!("tracker-large-{i}")).spawn(move || {
                lower_own_priority();
                loop {
                    let job = match receiver.lock() {
                        Ok(r) => r.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!("could not start a thread for large payloads: {e}");
            }
        }
        Mutex::new(sender)
    })
}

/// Runs `read` on the pool and waits for it without holding a runtime worker. `None` if the
/// work was lost (a panic that escaped `read`, or no thread could be started).
pub async fn run<T: Send + 'static>(read: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(read());
    });
    let sent = match pool().lock() {
        Ok(sender) => sender.send(job),
        Err(poisoned) => poisoned.into_inner().send(job),
    };
    sent.ok()?;
    result.await.ok()
}

/// Lowers the calling thread's CPU priority (Linux: nice values are per thread). Best effort:
/// where it is not allowed the thread runs at normal priority.
fn lower_own_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch only this thread's
        // scheduling attributes.
        let result = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICENESS)
        };
        if result != 0 {
            tracing::debug!("could not lower the priority of a large-payload thread");
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn runs_work_on_a_lower_priority_thread_and_returns_its_result() {
        let (name, nice) = super::run(|| {
            let name = std::thread::current().name().map(str::to_owned);
            // SAFETY: reads this thread's nice value.
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
            (name, nice)
        })
        .await
        .unwrap();
        assert!(name.unwrap().starts_with("tracker-large-"));
        assert_eq!(nice, super::NICENESS);
    }
}

//! How the process asks glibc's allocator to keep its memory: set once, at start, before any
//! thread allocates.
//!
//! With glibc's defaults a busy process keeps much more than it holds. Each thread that allocates
//! while another holds the main arena gets an arena of its own (up to 8 per core), and the
//! threshold above which a block is mapped on its own rises with every large block freed, up to
//! 32 MiB; so the megabyte-sized buffers of a batch (statement parameters, payloads, Avro) are
//! carved from those arenas and leave them fragmented. In the middle of a quarter's load, 140 of
//! 158 MB resident were such arenas (the main heap 39 MB, four others 14–34 MB). Two arenas, a
//! fixed 128 KiB mapping threshold (a large block goes back to the system when freed) and trimming
//! above 128 KiB free took a quarter's load from 171 to 141 MB at peak, and no slower.
//!
//! An operator who sets `GLIBC_TUNABLES` chooses for themselves: nothing is changed then.
//! Other C libraries (musl) and systems are left as they are.

/// Arenas the threads share (glibc's default is 8 per core).
const ARENAS: i32 = 2;
/// Blocks at least this large are mapped alone and returned to the system when freed.
const MMAP_THRESHOLD_BYTES: i32 = 128 * 1024;
/// Free memory at the top of a heap beyond this is returned to the system.
const TRIM_THRESHOLD_BYTES: i32 = 128 * 1024;

/// Applies the settings above, unless `GLIBC_TUNABLES` is set. Call first thing in `main`, before
/// the async runtime starts its threads.
pub fn keep_memory_small() {
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    configure();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn configure() {
    // SAFETY: mallopt only changes allocator parameters; it is called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn configure() {}

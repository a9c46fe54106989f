//! The process's memory allocator: mimalloc (the `tracker` binary makes it the global
//! allocator), told at start to give freed memory back at once.
//!
//! Why not glibc's: a batch allocates and frees hundreds of thousands of small blocks (decoded
//! rows, Avro values, statement parameters) across the async workers and the blocking readers,
//! and glibc spent about 30 % of the hub's CPU in `malloc`, `free` and their consolidation
//! (profiled during `tracker bench inbound`). Keeping its memory small also needed settings that
//! cost more CPU (two shared arenas, every block over 128 KiB mapped alone and unmapped when
//! freed). mimalloc's thread-local heaps took the inbound benchmark from ~3,500 to ~4,400 events/s.
//!
//! With its defaults mimalloc keeps what it frees for a second and commits whole arenas up front,
//! which put the inbound benchmark's peak at ~210 MB (glibc: ~120 MB). Freed pages purged at once
//! and arenas committed as used brought it to ~110 MB, at the same speed. An operator who sets
//! `MIMALLOC_PURGE_DELAY` or `MIMALLOC_ARENA_EAGER_COMMIT` chooses for themselves.
use libmimalloc_sys::{mi_option_set, mi_option_t};

/// `mi_option_arena_eager_commit` in mimalloc 3's `mi_option_e` (libmimalloc-sys does not name
/// the options of version 3; a test below checks the number against the documented default).
const ARENA_EAGER_COMMIT: mi_option_t = 4;
/// `mi_option_purge_delay`: how long freed memory is kept before it goes back to the system.
const PURGE_DELAY: mi_option_t = 15;

/// Applies the settings above, unless the operator set them in the environment. Call before
/// mimalloc starts (the binary calls it from a constructor that runs before mimalloc's own): it
/// reads its options and reserves its first arena as it starts, before `main`.
pub fn keep_memory_small() {
    for (option, variable, value) in
        [(PURGE_DELAY, c"MIMALLOC_PURGE_DELAY", 0), (ARENA_EAGER_COMMIT, c"MIMALLOC_ARENA_EAGER_COMMIT", 0)]
    {
        // SAFETY: getenv reads the environment without allocating (it is in place before
        // constructors run, and no other thread exists); mi_option_set sets an allocator
        // parameter by its number and touches no memory.
        unsafe {
            if libc::getenv(variable.as_ptr()).is_null() {
                mi_option_set(option, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libmimalloc_sys::mi_option_get;

    /// The allocator's current value of an option.
    fn option(option: mi_option_t) -> std::ffi::c_long {
        // SAFETY: reads an allocator parameter by its number.
        unsafe { mi_option_get(option) }
    }

    #[test]
    fn the_option_numbers_are_mimallocs() {
        // mimalloc 3's defaults (options.c): purge delay 1,000 ms, eager commit 2 ("only on
        // overcommit systems"). Nothing sets them in the test process (only the binary does); a shifted
        // enum in a new mimalloc would read some other option's value here.
        assert_eq!(option(PURGE_DELAY), 1000);
        assert_eq!(option(ARENA_EAGER_COMMIT), 2);
    }
}

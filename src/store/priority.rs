//! Background work at a lower scheduling priority than the write path.
//!
//! Why: on a small machine the indexer, the index engine's flushes and compactions, the writer
//! and the gRPC threads compete for the same cores, and an acknowledgement waits for the writer
//! and the gRPC threads, never for the background. At a lower priority the background uses the
//! cores the write path leaves idle (while it waits for an fsync, say) and falls behind during
//! a burst rather than slowing it; readers that need the indexes wait for them
//! (`Store::wait_indexed`), and the indexer catches up when the burst ends.

/// Nice value of background threads (0 is the default, 19 the lowest priority).
#[cfg(target_os = "linux")]
const BACKGROUND_NICE: libc::c_int = 10;

/// Lowers the calling thread's scheduling priority (Linux; elsewhere a no-op). Threads it
/// spawns afterwards inherit the lower priority.
pub fn yield_to_the_write_path() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take and return plain integers; on Linux, PRIO_PROCESS
        // with a thread id sets the priority of that one thread.
        // Only ever lower it: a server started under `nice -n 15` keeps its background
        // threads at 15 rather than raising them to 10 (which root could).
        let result = unsafe {
            let tid = libc::gettid();
            let current = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
            libc::setpriority(
                libc::PRIO_PROCESS,
                tid as libc::id_t,
                current.max(BACKGROUND_NICE),
            )
        };
        if result != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(),
                "could not lower a background thread's priority; it runs at the default");
        }
    }
}

/// Runs `work` on a new thread at background priority and returns its result: the threads
/// `work` starts (an engine's worker pool) inherit that priority.
pub fn spawn_background<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            yield_to_the_write_path();
            work()
        })?;
    thread
        .join()
        .map_err(|_| std::io::Error::other("the thread panicked"))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> libc::c_int {
        // SAFETY: as above; getpriority returns the nice value (errno is not needed here, as
        // every value this test sees is a valid nice value).
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[test]
    fn background_threads_and_their_children_run_at_the_lower_priority() {
        let before = nice_of_this_thread();
        let (own, child) = spawn_background("test-background", || {
            let child = std::thread::spawn(nice_of_this_thread)
                .join()
                .expect("the child joins");
            (nice_of_this_thread(), child)
        })
        .expect("the thread runs");
        assert_eq!(own, BACKGROUND_NICE.max(before));
        assert_eq!(child, own, "spawned threads inherit the priority");
        assert_eq!(nice_of_this_thread(), before, "the caller is unchanged");
    }
}

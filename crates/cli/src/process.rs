//! How a training command's process is set up: the allocator's one setting, and the threads
//! the step runs on (BENCHMARKS.md, a training step).
//!
//! - **Freed pages.** mimalloc gives memory that stayed free for its purge delay back to the
//!   system, and a training step then faults the same pages in again (the kernel's page
//!   clearing was 8-10% of a step's profile). The delay is read from the environment when
//!   the process starts, or set by an FFI call (`mi_option_set`) that the workspace's
//!   `unsafe_code = "deny"` keeps out.
//! - **One thread pool.** The convolutions, the per-channel ops and the `gemm` crate run on
//!   rayon's threads; candle's element-wise ops (a backward's gradient sums, mostly) run on
//!   candle's own pool, whose threads spin for a while after every op. On two cores the
//!   spinning thread took a core from rayon's, and every hand-off from the main thread to
//!   rayon woke a sleeping thread. So a training command turns candle's pool off
//!   (`CANDLE_NUM_THREADS=1`: its ops run on the calling thread; the `gemm` crate's thread
//!   count follows `RAYON_NUM_THREADS` and is unchanged) and runs on a rayon thread
//!   ([`on_rayon`]), where a parallel op takes the other threads without a wake-up of its
//!   own. RPGAN 4 x 8 on two threads: 77-83 -> 61-67 ms a step.
//!
//! Both variables are set by starting the command once more with them in its environment
//! ([`restart_with_defaults`]), each only where it is unset: set `MIMALLOC_PURGE_DELAY=1000`
//! for mimalloc's default, `CANDLE_NUM_THREADS` to a thread count for candle's pool. The
//! process keeps its id; a command that fails to parse has exited before this.

/// mimalloc's purge delay (ms; -1: never give freed pages back).
const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";
/// The thread count of candle's own pool for its element-wise ops.
const CANDLE_THREADS: &str = "CANDLE_NUM_THREADS";

/// What a training command runs with unless its environment says otherwise.
pub(crate) const TRAINING: &[(&str, &str)] = &[(PURGE_DELAY, "-1"), (CANDLE_THREADS, "1")];

/// Replaces this process by the same command with each `(variable, value)` of `defaults`
/// set where the variable is unset or empty; returns (and the command runs as it is) where all are
/// set, on a system without `exec`, or where the exec fails.
pub(crate) fn restart_with_defaults(defaults: &[(&str, &str)]) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let unset: Vec<_> = defaults
            .iter()
            .filter(|(name, _)| std::env::var_os(name).is_none_or(|v| v.is_empty()))
            .collect();
        if unset.is_empty() {
            return;
        }
        // on Linux the running file itself, even if a rebuild has replaced it since
        let exe = match std::path::Path::new("/proc/self/exe") {
            p if p.exists() => p.to_path_buf(),
            _ => match std::env::current_exe() {
                Ok(exe) => exe,
                Err(_) => return,
            },
        };
        let mut args = std::env::args_os();
        let mut cmd = std::process::Command::new(exe);
        if let Some(name) = args.next() {
            cmd.arg0(name);
        }
        cmd.args(args).envs(unset.into_iter().copied());
        // exec returns only if it failed, and then the command runs with the defaults
        let _ = cmd.exec();
    }
    #[cfg(not(unix))]
    let _ = defaults;
}

/// Runs `f` on a thread of a rayon pool of `RAYON_NUM_THREADS` threads (all cores where it
/// is unset), so that the parallel ops it calls split their work there; on the calling
/// thread where no pool can be built.
pub(crate) fn on_rayon<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new().build() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_work_runs_on_a_pool_thread() {
        assert_eq!(rayon::current_thread_index(), None);
        let (index, threads) =
            on_rayon(|| (rayon::current_thread_index(), rayon::current_num_threads()));
        assert!(
            index.is_some(),
            "on_rayon ran its work on the calling thread"
        );
        // as many as rayon's own default pool: RAYON_NUM_THREADS, or one per logical CPU
        assert_eq!(threads, rayon::current_num_threads());
    }
}

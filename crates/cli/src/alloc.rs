//! The allocator's one setting that a training run needs.
//!
//! mimalloc gives memory that stayed free for its purge delay back to the system, and a
//! training step then faults the same pages in again (the kernel's page clearing was 8-10%
//! of a step's profile, BENCHMARKS.md). The delay can be set from the environment, read when
//! the process starts, or by an FFI call (`mi_option_set`) that the workspace's
//! `unsafe_code = "deny"` keeps out; so a training command starts itself once more with
//! `MIMALLOC_PURGE_DELAY=-1` (keep freed pages) unless that variable is set already (set it
//! to `1000` for mimalloc's default). The process keeps its id; a command that fails to parse
//! has exited before this.

/// The variable mimalloc reads.
#[cfg(unix)]
const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";

/// Replaces this process by the same command with [`PURGE_DELAY`] set, where it is unset;
/// returns (and the command runs as it is) where it is set or the exec fails.
pub(crate) fn keep_freed_pages() {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os(PURGE_DELAY).is_some() {
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
        // exec returns only if it failed, and then the command runs with the default
        let _ = cmd.args(args).env(PURGE_DELAY, "-1").exec();
    }
}

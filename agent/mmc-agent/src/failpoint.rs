//! Crash points for the crash-safety test.
//!
//! The agent calls [`hit`] between the steps of every change it makes (around each write, rename
//! and command). When the environment variable `MMC_AGENT_KILL_AT` is a number N, the N-th hit
//! sends SIGKILL to the agent itself, so a test can stop it at any chosen point of an apply and
//! check that the next run converges. Unset (always, outside tests), a hit costs one relaxed
//! atomic increment.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static HITS: AtomicU64 = AtomicU64::new(0);

fn kill_at() -> Option<u64> {
    static KILL_AT: OnceLock<Option<u64>> = OnceLock::new();
    *KILL_AT.get_or_init(|| {
        std::env::var("MMC_AGENT_KILL_AT")
            .ok()
            .and_then(|v| v.parse().ok())
    })
}

pub(crate) fn hit() {
    let n = HITS.fetch_add(1, Ordering::Relaxed) + 1;
    if kill_at() == Some(n) {
        // SAFETY: signals this very process; nothing is shared.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

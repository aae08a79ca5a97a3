//! Waiting as a function value: poll a check until it passes, a deadline passes, or it aborts.

use std::future::Future;
use std::time::{Duration, Instant};

/// What one poll says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll<T> {
    /// Passed.
    Ready(T),
    /// Not yet; why.
    NotYet(String),
    /// Will never pass; why.
    Abort(String),
}

/// Why a wait ended without success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// The deadline passed; the last reason seen.
    #[error("{what}: not met within {secs} s (last seen: {last})")]
    TimedOut {
        /// What was awaited.
        what: String,
        /// The limit.
        secs: u64,
        /// The last reason.
        last: String,
    },
    /// The check said it will never pass.
    #[error("{what}: {reason}")]
    Aborted {
        /// What was awaited.
        what: String,
        /// Why.
        reason: String,
    },
}

/// Polls `check` every `interval` until it is ready, aborts, or `timeout` passes.
pub async fn until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: F,
) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Poll<T>>,
{
    // A timeout too large to add (e.g. u64::MAX seconds) means "no deadline", never a panic.
    let deadline = Instant::now().checked_add(timeout);
    loop {
        match check().await {
            Poll::Ready(v) => return Ok(v),
            Poll::Abort(reason) => {
                return Err(WaitError::Aborted {
                    what: what.to_string(),
                    reason,
                })
            }
            Poll::NotYet(last) => {
                // `-v` shows why a gate is still waiting, poll by poll.
                tracing::debug!(what, last = %last, "not yet");
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(WaitError::TimedOut {
                        what: what.to_string(),
                        secs: timeout.as_secs(),
                        last,
                    });
                }
            }
        }
        let left = deadline.map_or(interval, |d| d.saturating_duration_since(Instant::now()));
        tokio::time::sleep(interval.min(left).max(Duration::from_millis(10))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_check_that_never_passes_times_out_with_its_last_reason() {
        let e = until::<(), _, _>(
            "x",
            Duration::from_millis(50),
            Duration::from_millis(10),
            || async { Poll::NotYet("still 0".into()) },
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("still 0"));
    }

    #[tokio::test]
    async fn a_timeout_too_large_to_add_never_panics() {
        let v = until(
            "x",
            Duration::from_secs(u64::MAX),
            Duration::from_millis(1),
            || async { Poll::Ready(1) },
        )
        .await
        .unwrap();
        assert_eq!(v, 1);
    }

    #[tokio::test]
    async fn a_check_passes_on_the_third_poll() {
        let mut n = 0;
        let v = until(
            "x",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                n += 1;
                let k = n;
                async move {
                    if k >= 3 {
                        Poll::Ready(k)
                    } else {
                        Poll::NotYet(String::new())
                    }
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 3);
    }
}

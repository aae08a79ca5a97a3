//! Waiting as a function value: poll a check until it passes, a deadline passes, or it aborts.

use std::future::Future;
use std::time::Duration;
// tokio's clock (std's outside a paused test runtime), so the pacing can be tested in virtual time.
use tokio::time::Instant;

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

/// Polls `check` every `interval` until it is ready, aborts, or `timeout` passes. The interval
/// is from one poll's start to the next's, so the time a poll takes is not added to the wait for
/// the next one (a gate read over SSH in 25 ms is read every 50 ms, as the floor's on-node loop
/// reads its own, not every 75). A poll that takes longer than the interval is followed after a
/// fifth of the interval (at least 10 ms): a heavy check polled every second (DC/OS's
/// `dcos-check-runner`) that takes three is not run back to back on a node that is starting.
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
        let started = Instant::now();
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
        let now = Instant::now();
        let next = (started + interval).saturating_duration_since(now);
        let left = deadline.map_or(next, |d| d.saturating_duration_since(now));
        let least = (interval / 5).max(Duration::from_millis(10));
        tokio::time::sleep(next.max(least).min(left).max(Duration::from_millis(10))).await;
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

    /// A poll that takes 30 ms at an interval of 50 ms starts every 50 ms, not every 80; one
    /// that takes longer than the interval is followed a fifth of it (at least 10 ms) after it
    /// ends.
    #[tokio::test(start_paused = true)]
    async fn polls_start_one_interval_apart_whatever_a_poll_takes() {
        for (interval, took, gap) in [(50, 30, 50), (50, 70, 80), (1000, 3000, 3200)] {
            let starts = std::sync::Mutex::new(Vec::new());
            let _ = until::<(), _, _>(
                "x",
                Duration::from_secs(60),
                Duration::from_millis(interval),
                || async {
                    starts.lock().unwrap().push(Instant::now());
                    tokio::time::sleep(Duration::from_millis(took)).await;
                    let n = starts.lock().unwrap().len();
                    if n == 5 {
                        Poll::Ready(())
                    } else {
                        Poll::NotYet(String::new())
                    }
                },
            )
            .await;
            let starts = starts.into_inner().unwrap();
            let gaps: Vec<u128> = (starts.windows(2))
                .map(|w| (w[1] - w[0]).as_millis())
                .collect();
            assert_eq!(gaps, vec![gap; 4], "a poll of {took} ms");
        }
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

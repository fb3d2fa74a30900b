//! What the kill tests share: reproducible random delays (a seed printed and settable from
//! the environment), settings from the environment, and polling until something holds.

use std::time::Duration;

/// A tiny xorshift generator: reproducible delays without another dependency.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        low + x % (high - low + 1)
    }
}

/// `name` from the environment, or `default` when unset or unreadable.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The seed in `name`, or a fresh one from the clock and the process id.
pub fn seed(name: &str) -> u64 {
    env_or(name, {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos());
        (nanos as u64 ^ u64::from(std::process::id())) | 1
    })
}

/// Polls `check` every 300 ms until it gives `Some`, at most `within`.
pub async fn wait_for<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

//! Failed-login rate limit: after `MAX_FAILURES` failures for one email or one client address
//! within `WINDOW`, further attempts are refused until the window has passed. A success clears
//! the email's count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MAX_FAILURES: usize = 10;
const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginLimiter {
    /// Whether any of the keys (email, client address) has used up its failures.
    pub fn is_blocked(&self, keys: &[&str]) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        keys.iter().any(|key| {
            map.get_mut(*key).is_some_and(|times| {
                times.retain(|t| now.duration_since(*t) < WINDOW);
                times.len() >= MAX_FAILURES
            })
        })
    }

    pub fn record_failure(&self, keys: &[&str]) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        // Bound the map: forget keys whose failures have all aged out.
        if map.len() > 10_000 {
            map.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < WINDOW));
        }
        for key in keys {
            map.entry((*key).to_string()).or_default().push(now);
        }
    }

    pub fn record_success(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_clears_on_success() {
        let limiter = LoginLimiter::default();
        for _ in 0..MAX_FAILURES {
            assert!(!limiter.is_blocked(&["a@x.io"]));
            limiter.record_failure(&["a@x.io", "1.2.3.4"]);
        }
        assert!(limiter.is_blocked(&["a@x.io"]));
        assert!(limiter.is_blocked(&["other@x.io", "1.2.3.4"]));
        limiter.record_success("a@x.io");
        assert!(!limiter.is_blocked(&["a@x.io"]));
    }
}

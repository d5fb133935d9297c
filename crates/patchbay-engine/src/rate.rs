//! Rate budgets: one token bucket per provider (and optionally per connection), shared by
//! everything that calls that provider, plus a pause when the provider says to back off
//! (429 with `Retry-After`), so callers wait instead of burning retries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub per_second: f64,
    pub burst: f64,
}

struct Bucket {
    limit: Option<Limit>,
    tokens: f64,
    refilled: Instant,
    paused_until: Option<Instant>,
}

impl Bucket {
    fn new(limit: Option<Limit>) -> Self {
        Bucket {
            limit,
            tokens: limit.map_or(0.0, |l| l.burst),
            refilled: Instant::now(),
            paused_until: None,
        }
    }

    /// How long to wait before a request may go; takes a token when it may go now.
    fn reserve(&mut self, now: Instant) -> Option<Duration> {
        if let Some(until) = self.paused_until {
            if until > now {
                return Some(until - now);
            }
            self.paused_until = None;
        }
        let limit = self.limit?;
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(limit.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64(
                (1.0 - self.tokens) / limit.per_second,
            ))
        }
    }
}

pub struct RateBudget {
    buckets: Mutex<HashMap<String, Bucket>>,
    /// The end of the latest pause, in ms after `epoch`: until then every request looks at
    /// its buckets; after it, requests to providers without a limit need no lock at all.
    paused_until_ms: AtomicU64,
    epoch: Instant,
}

impl Default for RateBudget {
    fn default() -> Self {
        RateBudget {
            buckets: Mutex::default(),
            paused_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

impl RateBudget {
    fn ms_since_epoch(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Waits until every named budget lets one request through.
    pub async fn acquire(&self, keys: &[(String, Option<Limit>)]) {
        let unlimited = keys.iter().all(|(_, limit)| limit.is_none());
        if unlimited
            && self.ms_since_epoch(Instant::now()) > self.paused_until_ms.load(Ordering::Acquire)
        {
            return;
        }
        loop {
            let wait = {
                let mut buckets = self.buckets.lock().expect("rate budget");
                let now = Instant::now();
                keys.iter()
                    .filter_map(|(key, limit)| {
                        // Looked up by reference first: a request allocates nothing here.
                        if !buckets.contains_key(key.as_str()) {
                            buckets.insert(key.clone(), Bucket::new(*limit));
                        }
                        buckets.get_mut(key.as_str())?.reserve(now)
                    })
                    .max()
            };
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// The provider asked for a pause: every caller of `key` waits it out.
    pub fn pause(&self, key: &str, for_: Duration) {
        let mut buckets = self.buckets.lock().expect("rate budget");
        let bucket = buckets
            .entry(key.to_string())
            .or_insert_with(|| Bucket::new(None));
        let until = Instant::now() + for_;
        if bucket.paused_until.is_none_or(|u| u < until) {
            bucket.paused_until = Some(until);
        }
        self.paused_until_ms
            .fetch_max(self.ms_since_epoch(until) + 1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn buckets_pace_and_pauses_hold() {
        let budget = RateBudget::default();
        let limit = Some(Limit {
            per_second: 50.0,
            burst: 5.0,
        });
        let start = Instant::now();
        for _ in 0..10 {
            budget.acquire(&[("p".to_string(), limit)]).await;
        }
        // 5 from the burst, 5 more at 50/s ≈ 100 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(80),
            "{:?}",
            start.elapsed()
        );
        budget.pause("q", Duration::from_millis(100));
        let start = Instant::now();
        budget.acquire(&[("q".to_string(), None)]).await;
        assert!(start.elapsed() >= Duration::from_millis(90));
        let start = Instant::now();
        budget.acquire(&[("free".to_string(), None)]).await;
        assert!(start.elapsed() < Duration::from_millis(20));
    }
}

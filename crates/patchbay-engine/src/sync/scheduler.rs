//! The scheduler: per-connection sync frequency (`manual`, an interval such as `15m`, or a
//! 5-field cron expression). It queues due syncs of enabled, sync-capable connections. Moving a
//! connection's next time is a compare-and-swap, so two schedulers on one database never
//! schedule the same run twice.

use super::Syncs;
use crate::error::Result;
use chrono::{TimeZone, Utc};
use patchbay_core::{now_ms, Capability, SyncMode};
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Frequency {
    Manual,
    Every(Duration),
    Cron(Box<croner::Cron>),
}

/// The longest sync interval: 30 days.
pub const MAX_INTERVAL_SECS: u64 = 30 * 86_400;

/// Parses a sync frequency; the message says what is accepted.
pub fn parse_frequency(text: &str) -> std::result::Result<Frequency, String> {
    let t = text.trim();
    if t == "manual" {
        return Ok(Frequency::Manual);
    }
    // Split off the last character, not the last byte: the text may be any UTF-8.
    let mut chars = t.chars();
    let unit = chars.next_back().unwrap_or(' ');
    if let (Some(n), true) = (chars.as_str().parse::<u64>().ok(), "smhd".contains(unit)) {
        let secs = n.saturating_mul(match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => 86_400,
        });
        if secs < 60 {
            return Err("the shortest sync interval is 1m".into());
        }
        if secs > MAX_INTERVAL_SECS {
            return Err("the longest sync interval is 30d".into());
        }
        return Ok(Frequency::Every(Duration::from_secs(secs)));
    }
    croner::Cron::new(t)
        .parse()
        .map(|c| Frequency::Cron(Box::new(c)))
        .map_err(|e| {
            format!("'{t}' is not manual, an interval like 15m or 6h, or a cron expression ({e})")
        })
}

/// The next time after `after_ms` a sync is due.
pub fn next_run(freq: &Frequency, after_ms: i64) -> Option<i64> {
    match freq {
        Frequency::Manual => None,
        Frequency::Every(d) => Some(after_ms + d.as_millis() as i64),
        Frequency::Cron(c) => {
            let after = Utc.timestamp_millis_opt(after_ms).single()?;
            c.find_next_occurrence(&after, false)
                .ok()
                .map(|t| t.timestamp_millis())
        }
    }
}

impl Syncs {
    /// Queues every due sync; returns how many this scheduler queued.
    pub async fn schedule_due(&self) -> Result<usize> {
        let now = now_ms();
        let mut queued = 0;
        for row in self.ctx.store().due_connections(now, 200).await? {
            let Ok(freq) = parse_frequency(&row.sync_frequency) else {
                continue;
            };
            let Some(next) = next_run(&freq, now) else {
                continue;
            };
            let Ok(connector) = self.ctx.connector_for(&row) else {
                continue;
            };
            if !connector.spec().supports(Capability::Sync) {
                continue;
            }
            // Whoever moves the next time owns this slot; the others skip it.
            if !self
                .ctx
                .store()
                .claim_schedule(&row.id, row.next_sync_at, next)
                .await?
            {
                continue;
            }
            match self.queue_sync(&row, SyncMode::Incremental, None).await {
                Ok(_) => queued += 1,
                Err(crate::EngineError::Conflict(_)) => {}
                Err(e) => {
                    tracing::warn!(connection = %row.id, error = %e, "scheduled sync not queued")
                }
            }
        }
        Ok(queued)
    }

    pub fn spawn_scheduler(
        &self,
        every: Duration,
        cancel: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        let mut cancel = cancel;
        tokio::spawn(async move {
            while !*cancel.borrow() {
                if let Err(e) = engine.schedule_due().await {
                    tracing::warn!(error = %e, "scheduler pass failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = cancel.changed() => {}
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_parse() {
        assert!(matches!(parse_frequency("manual"), Ok(Frequency::Manual)));
        assert!(
            matches!(parse_frequency("15m"), Ok(Frequency::Every(d)) if d == Duration::from_secs(900))
        );
        assert!(parse_frequency("30s").unwrap_err().contains("1m"));
        assert!(parse_frequency("every tuesday").is_err());
        let cron = parse_frequency("*/5 * * * *").unwrap();
        let next = next_run(&cron, 1_700_000_000_000).unwrap();
        assert_eq!(next % 300_000, 0);
        assert!(next > 1_700_000_000_000 && next - 1_700_000_000_000 <= 300_000);
        assert_eq!(
            next_run(&Frequency::Every(Duration::from_secs(60)), 1000),
            Some(61_000)
        );
    }

    #[test]
    fn frequencies_are_bounded_and_any_text_is_safe() {
        assert!(
            matches!(parse_frequency("30d"), Ok(Frequency::Every(d)) if d == Duration::from_secs(30 * 86_400))
        );
        assert!(parse_frequency("31d").unwrap_err().contains("30d"));
        assert!(parse_frequency("18446744073709551615s")
            .unwrap_err()
            .contains("30d"));
        assert!(parse_frequency("18446744073709551615d").is_err());
        // Multi-byte text ending in a multi-byte character once split a char in two.
        for text in ["§äc\u{9f}", "5\u{9f}", "é", "15ḿ", ""] {
            assert!(parse_frequency(text).is_err(), "{text:?}");
        }
    }
}

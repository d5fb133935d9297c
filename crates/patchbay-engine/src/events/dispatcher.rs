//! The dispatcher: fans new outbox events out to the subscriptions that want them (reading
//! back a short window for events that committed late), claims due deliveries, signs and
//! sends them, and records each attempt with its retry schedule and circuit.

use super::Events;
use super::OWNER;
use crate::error::{EngineError, Result};
use patchbay_connectors::webhooks::sign;
use patchbay_core::{ids, ms_to_rfc3339, now_ms, Secret, WebhookScheme};
use patchbay_store::{
    AttemptRecord, CircuitUpdate, DeliveryRow, EventHead, EventRow, SubscriptionRow,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events fanned out per subscription per round.
const FAN_OUT_BATCH: i64 = 2000;
/// How far behind a subscription's cursor fan-out looks again for events whose transaction
/// committed after later ones had been read: longer than any transaction that writes events.
const RECHECK_WINDOW_MS: i64 = 30_000;
const RECHECK_EVERY_MS: i64 = 1_000;
const RECHECK_PAGES: usize = 16;
/// Dispatch loops per process: while one sends, another claims and records.
pub const DISPATCH_LOOPS: usize = 3;
/// Deliveries claimed per round.
const CLAIM_BATCH: i64 = 700;

/// A subscription with its signing secret, loaded once per round.
struct Target {
    sub: SubscriptionRow,
    secret: Secret,
}

/// What a round's groups came to: attempts in the order they were made, and deliveries
/// handed back unsent (behind a failure in their group).
#[derive(Default)]
struct Done {
    sent: Vec<(DeliveryRow, Sent)>,
    released: Vec<String>,
}

impl Done {
    fn absorb(&mut self, other: Done) {
        self.sent.extend(other.sent);
        self.released.extend(other.released);
    }
}

/// How long a round waits for its slowest groups before recording what is done.
const ROUND_WAIT: Duration = Duration::from_secs(1);

/// What one attempt came to.
struct Sent {
    ok: bool,
    code: Option<i64>,
    response: Option<String>,
    error: Option<String>,
    latency_ms: i64,
}
/// Delay before each attempt after the first failure (attempt 2 onward); past the end: dead.
const SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(300),
    Duration::from_secs(1800),
    Duration::from_secs(7200),
    Duration::from_secs(18_000),
    Duration::from_secs(36_000),
    Duration::from_secs(36_000),
];
/// Consecutive failures that open a subscription's circuit.
const CIRCUIT_AFTER: i64 = 5;

/// `connection.*` matches `connection.created`; an empty list matches everything.
/// Pending deliveries of the events a subscription wants.
fn deliveries_for(
    sub: &SubscriptionRow,
    types: &[String],
    events: &[EventHead],
    now: i64,
) -> Vec<DeliveryRow> {
    events
        .iter()
        .filter(|e| wanted(types, &e.event_type))
        // An event made before the subscription, even one committed after it, is not its.
        .filter(|e| ids::id_time_ms(&e.id).is_none_or(|t| t >= sub.created_at))
        .map(|e| DeliveryRow {
            id: ids::new_id(ids::IdKind::Delivery),
            workspace_id: sub.workspace_id.clone(),
            subscription_id: sub.id.clone(),
            event_id: e.id.clone(),
            connection_id: e.connection_id.clone(),
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: now,
            last_status_code: None,
            last_latency_ms: None,
            last_response: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        })
        .collect()
}

fn wanted(types: &[String], event_type: &str) -> bool {
    types.is_empty()
        || types.iter().any(|t| {
            t == event_type
                || t.strip_suffix(".*")
                    .is_some_and(|p| event_type.starts_with(&format!("{p}.")))
        })
}
impl Events {
    /// True at most once per [`RECHECK_EVERY_MS`] for a subscription, in this process.
    fn recheck_due(&self, subscription_id: &str, now: i64) -> bool {
        let mut last = self.state.fan_out_rechecks.lock().expect("recheck times");
        let at = last.entry(subscription_id.to_string()).or_insert(0);
        if now - *at < RECHECK_EVERY_MS {
            return false;
        }
        *at = now;
        true
    }

    /// Adds deliveries for new events, then sends what is due; returns attempts made.
    pub async fn dispatch_once(&self) -> Result<usize> {
        self.dispatch_round(true).await
    }

    /// One round; with `wait_for_all` false, groups still sending after [`ROUND_WAIT`] finish
    /// and record on their own while the caller goes on.
    async fn dispatch_round(&self, wait_for_all: bool) -> Result<usize> {
        let now = now_ms();
        for sub in self
            .ctx
            .store()
            .list_subscriptions(None)
            .await?
            .into_iter()
            .filter(|s| s.enabled)
        {
            let types: Vec<String> = serde_json::from_str(&sub.event_types).unwrap_or_default();
            // Event ids are made before their transaction commits, so an event can become
            // visible after fan-out has read past it. Now and then the last stretch behind the
            // cursor is read again for events without a delivery.
            if let Some(cursor) = sub
                .cursor
                .as_deref()
                .filter(|_| self.recheck_due(&sub.id, now))
            {
                // Never behind the subscription's own creation: it receives events from then on.
                let since = (ids::id_time_ms(cursor).unwrap_or(now) - RECHECK_WINDOW_MS)
                    .max(sub.created_at);
                let mut after = ids::id_floor(ids::IdKind::Event, since);
                // Events the filter leaves out have no delivery either, so this reads pages.
                for _ in 0..RECHECK_PAGES {
                    let late = self
                        .ctx
                        .store()
                        .events_without_delivery(
                            &sub.workspace_id,
                            &sub.id,
                            &after,
                            cursor,
                            FAN_OUT_BATCH,
                        )
                        .await?;
                    let deliveries = deliveries_for(&sub, &types, &late, now);
                    if !deliveries.is_empty() {
                        self.ctx.store().fan_out(&sub, &deliveries, None).await?;
                    }
                    match late.last() {
                        Some(e) if late.len() as i64 == FAN_OUT_BATCH => after = e.id.clone(),
                        _ => break,
                    }
                }
            }
            let events = self
                .ctx
                .store()
                .events_after(&sub.workspace_id, sub.cursor.as_deref(), FAN_OUT_BATCH)
                .await?;
            let Some(last) = events.last().map(|e| e.id.clone()) else {
                continue;
            };
            let deliveries = deliveries_for(&sub, &types, &events, now);
            self.ctx
                .store()
                .fan_out(&sub, &deliveries, Some(&last))
                .await?;
        }
        let due = self
            .ctx
            .store()
            .claim_deliveries(now, now + 60_000, CLAIM_BATCH)
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let event_ids: Vec<String> = due.iter().map(|d| d.event_id.clone()).collect();
        let events: HashMap<String, Arc<EventRow>> = self
            .ctx
            .store()
            .get_events(&event_ids)
            .await?
            .into_iter()
            .map(|e| (e.id.clone(), Arc::new(e)))
            .collect();
        // One subscription read and one secret opened per subscription per round.
        let mut targets: HashMap<String, Arc<Target>> = HashMap::new();
        for d in &due {
            if targets.contains_key(&d.subscription_id) {
                continue;
            }
            let Some(sub) = self
                .ctx
                .store()
                .get_subscription(None, &d.subscription_id)
                .await?
            else {
                continue;
            };
            let creds = self.ctx.store().list_credentials(OWNER, &sub.id).await?;
            let secret = self
                .ctx
                .vault()
                .open_credential(
                    creds
                        .first()
                        .ok_or(EngineError::NotFound("signing secret"))?,
                )
                .await?;
            targets.insert(sub.id.clone(), Arc::new(Target { sub, secret }));
        }
        // Each connection's deliveries go one after another, in event order; connections and
        // subscribers in parallel, so one slow endpoint holds up only its own deliveries.
        let mut groups: BTreeMap<(String, Option<String>), Vec<DeliveryRow>> = BTreeMap::new();
        for d in due {
            groups
                .entry((d.subscription_id.clone(), d.connection_id.clone()))
                .or_default()
                .push(d);
        }
        let mut sends = tokio::task::JoinSet::new();
        for ((sub_id, _), group) in groups {
            let engine = self.clone();
            let target = targets.get(&sub_id).cloned();
            let events = group
                .iter()
                .map(|d| events.get(&d.event_id).cloned())
                .collect::<Vec<_>>();
            sends.spawn(async move {
                let mut done = Done::default();
                let mut blocked = false;
                for (d, event) in group.into_iter().zip(events) {
                    let (Some(target), Some(event), false) = (&target, event, blocked) else {
                        done.released.push(d.id);
                        continue;
                    };
                    let outcome = engine.send_one(target, &event).await;
                    // A failure holds the connection's later events back, to keep the order.
                    blocked = !outcome.ok;
                    done.sent.push((d, outcome));
                }
                done
            });
        }
        // Groups that finish within ROUND_WAIT are recorded together; a slower one (a
        // subscriber answering late, or not at all until the timeout) is recorded on its own
        // when it finishes, so it holds back only its own connection's deliveries.
        let mut done = Done::default();
        let wait = tokio::time::sleep(ROUND_WAIT);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                next = sends.join_next() => match next {
                    Some(Ok(group)) => done.absorb(group),
                    // Its deliveries stay held until the claim lapses, then go out again.
                    Some(Err(e)) => tracing::error!(error = %e, "a delivery task failed"),
                    None => break,
                },
                _ = &mut wait => break,
            }
        }
        let n = done.sent.len();
        self.record(done).await?;
        if !sends.is_empty() {
            let engine = self.clone();
            let stragglers = async move {
                while let Some(next) = sends.join_next().await {
                    let recorded = match next {
                        Ok(group) => engine.record(group).await,
                        Err(e) => {
                            tracing::error!(error = %e, "a delivery task failed");
                            Ok(())
                        }
                    };
                    if let Err(e) = recorded {
                        tracing::warn!(error = %e, "recording delivery attempts failed");
                    }
                }
            };
            if wait_for_all {
                stragglers.await;
            } else {
                tokio::spawn(stragglers);
            }
        }
        Ok(n)
    }

    /// Records attempts, released deliveries and each subscription's circuit in one
    /// transaction.
    async fn record(&self, done: Done) -> Result<()> {
        if done.sent.is_empty() && done.released.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        // Per subscription, in the order the attempts were made: any success, and the
        // failures after the last one.
        let mut circuits: BTreeMap<String, (bool, i64)> = BTreeMap::new();
        let records: Vec<(DeliveryRow, AttemptRecord)> = done
            .sent
            .into_iter()
            .map(|(d, o)| {
                let c = circuits.entry(d.subscription_id.clone()).or_default();
                *c = if o.ok { (true, 0) } else { (c.0, c.1 + 1) };
                let next = SCHEDULE.get(d.attempts as usize);
                let record = AttemptRecord {
                    attempt_id: ids::new_id(ids::IdKind::Delivery),
                    status_code: o.code,
                    latency_ms: o.latency_ms,
                    response: o.response,
                    error: o.error,
                    succeeded: o.ok,
                    dead: !o.ok && next.is_none(),
                    retry_at: if o.ok {
                        None
                    } else {
                        next.map(|d| now + d.as_millis() as i64)
                    },
                };
                (d, record)
            })
            .collect();
        let circuits: Vec<CircuitUpdate> = circuits
            .into_iter()
            .map(|(subscription_id, (succeeded, failures))| CircuitUpdate {
                subscription_id,
                succeeded,
                failures,
                open_after: CIRCUIT_AFTER,
            })
            .collect();
        self.ctx
            .store()
            .record_attempts(&records, &done.released, &circuits, now)
            .await?;
        Ok(())
    }

    /// One signed POST of an event to a subscriber.
    async fn send_one(&self, target: &Target, event: &EventRow) -> Sent {
        // The payload is stored as JSON text: spliced in, not parsed and written again.
        let data = if serde_json::from_str::<serde::de::IgnoredAny>(&event.payload).is_ok() {
            event.payload.as_str()
        } else {
            "null"
        };
        let body = format!(
            r#"{{"type":{},"timestamp":"{}","data":{data}}}"#,
            Value::String(event.event_type.clone()),
            ms_to_rfc3339(event.created_at)
        );
        let ts = now_ms() / 1000;
        let started = Instant::now();
        let sent = async {
            let mut req = self
                .ctx
                .http()
                .request(reqwest::Method::POST, &target.sub.url)?
                .header("content-type", "application/json");
            for (k, v) in sign(
                WebhookScheme::StandardWebhooks,
                target.secret.expose(),
                body.as_bytes(),
                ts,
                &event.id,
            ) {
                req = req.header(k, v);
            }
            self.ctx.http().send_raw(req.body(body)).await
        }
        .await;
        let latency_ms = started.elapsed().as_millis() as i64;
        match sent {
            Ok((status, _, bytes)) => Sent {
                ok: (200..300).contains(&status),
                code: Some(i64::from(status)),
                // Kept short, and without NUL characters, which text columns refuse.
                response: Some(
                    String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).replace('\0', ""),
                ),
                error: None,
                latency_ms,
            },
            Err(e) => Sent {
                ok: false,
                code: None,
                response: None,
                error: Some(e.to_string()),
                latency_ms,
            },
        }
    }

    /// Runs [`DISPATCH_LOOPS`] dispatch loops until `cancel`. Loops never send the same
    /// connection's deliveries at once: a claim holds a connection's group until it is recorded.
    pub fn spawn_dispatcher(
        &self,
        cancel: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut loops = tokio::task::JoinSet::new();
            // The first loop looks for work every 250 ms; the others join in only while it
            // finds some, so an idle server polls the outbox once, not once per loop.
            let work = Arc::new(tokio::sync::Notify::new());
            for i in 0..DISPATCH_LOOPS {
                let (engine, mut cancel, work) = (engine.clone(), cancel.clone(), work.clone());
                loops.spawn(async move {
                    while !*cancel.borrow() {
                        match engine.dispatch_round(false).await {
                            Ok(n) if n > 0 => {
                                if i == 0 {
                                    work.notify_waiters();
                                }
                                continue;
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "event dispatch failed"),
                        }
                        let idle = async {
                            if i == 0 {
                                tokio::time::sleep(Duration::from_millis(250)).await
                            } else {
                                work.notified().await
                            }
                        };
                        tokio::select! {
                            _ = idle => {}
                            _ = cancel.changed() => {}
                        }
                    }
                });
            }
            while loops.join_next().await.is_some() {}
        })
    }
}

#[cfg(test)]
mod tests {
    use super::wanted;

    #[test]
    fn event_filters() {
        assert!(wanted(&[], "anything"));
        let t = vec!["connection.*".to_string(), "records.changed".to_string()];
        assert!(wanted(&t, "connection.created") && wanted(&t, "records.changed"));
        assert!(!wanted(&t, "sync.completed") && !wanted(&t, "connectionx.created"));
    }
}

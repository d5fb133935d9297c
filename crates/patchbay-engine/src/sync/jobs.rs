//! Workers: claim a job, keep its lease alive while it runs, record the outcome, retry failures
//! with exponential backoff and jitter up to the job's attempts, then `dead`. `try_run_one` is
//! the entry point tests drive directly; `spawn_workers` runs it in loops.

use super::Syncs;
use crate::error::Result;
use crate::sync::{JobEnd, SYNC_JOB};
use patchbay_core::now_ms;
use patchbay_store::{JobRow, RunEnd};
use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What one `try_run_one` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// A job ran; `ok` is false when it failed and was rescheduled or buried.
    Ran {
        job_id: String,
        kind: String,
        ok: bool,
    },
    Empty,
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs one process runs at once.
    pub concurrency: usize,
    /// How long an idle worker waits before looking again.
    pub poll_interval: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 2,
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// Backoff before attempt `attempts + 1`: 5 s doubling, capped at an hour, ±20% jitter.
pub fn retry_delay(attempts: i64) -> Duration {
    let base = 5_000f64 * 2f64.powi((attempts.max(1) - 1).min(10) as i32);
    let capped = base.min(3_600_000.0);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    Duration::from_millis((capped * jitter) as u64)
}

impl Syncs {
    /// Claims and runs the next due job, if any.
    pub async fn try_run_one(&self, worker: &str) -> Result<RunOutcome> {
        let now = now_ms();
        let Some(job) = self
            .ctx
            .store()
            .claim_job(worker, now, now + self.state.job_lease_ms)
            .await?
        else {
            return Ok(RunOutcome::Empty);
        };
        self.run_claimed(job, worker).await
    }

    /// Runs one particular job in the foreground (the CLI's `sync run`).
    pub async fn run_job_now(&self, job_id: &str, worker: &str) -> Result<RunOutcome> {
        let now = now_ms();
        match self
            .ctx
            .store()
            .claim_job_by_id(job_id, worker, now, now + self.state.job_lease_ms)
            .await?
        {
            Some(job) => self.run_claimed(job, worker).await,
            None => Ok(RunOutcome::Empty),
        }
    }

    async fn run_claimed(&self, job: JobRow, worker: &str) -> Result<RunOutcome> {
        let (id, kind) = (job.id.clone(), job.kind.clone());
        if job.attempts > job.max_attempts {
            // It kept dying mid-run (lease expiries count as attempts): give up cleanly.
            self.bury(&job, worker, "the job's worker stopped too many times")
                .await?;
            return Ok(RunOutcome::Ran {
                job_id: id,
                kind,
                ok: false,
            });
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = self.spawn_renewer(&job.id, worker, lost.clone());
        let result = match job.kind.as_str() {
            SYNC_JOB => self.run_sync_job(&job, worker, lost.clone()).await,
            other => {
                renewer.abort();
                self.bury(&job, worker, &format!("unknown job kind '{other}'"))
                    .await?;
                return Ok(RunOutcome::Ran {
                    job_id: id,
                    kind,
                    ok: false,
                });
            }
        };
        renewer.abort();
        let now = now_ms();
        match result {
            Ok(JobEnd::Done) => {
                self.ctx.store().complete_job(&job.id, worker, now).await?;
                Ok(RunOutcome::Ran {
                    job_id: id,
                    kind,
                    ok: true,
                })
            }
            Ok(JobEnd::LeaseLost) => Ok(RunOutcome::Ran {
                job_id: id,
                kind,
                ok: false,
            }),
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(job = %job.id, attempt = job.attempts, error = %message, "job failed");
                if job.attempts >= job.max_attempts {
                    self.bury(&job, worker, &message).await?;
                } else {
                    let at = now + retry_delay(job.attempts).as_millis() as i64;
                    self.ctx
                        .store()
                        .fail_job(&job.id, worker, &message, Some(at), now)
                        .await?;
                }
                Ok(RunOutcome::Ran {
                    job_id: id,
                    kind,
                    ok: false,
                })
            }
        }
    }

    /// Marks a job dead; a sync job's run fails with the same error.
    async fn bury(&self, job: &JobRow, worker: &str, error: &str) -> Result<()> {
        let now = now_ms();
        self.ctx
            .store()
            .fail_job(&job.id, worker, error, None, now)
            .await?;
        if job.kind == SYNC_JOB {
            if let Some(run) = self.ctx.store().sync_run_for_job(&job.id).await? {
                if matches!(run.status.as_str(), "pending" | "running") {
                    let entities = serde_json::from_str(&run.entities).unwrap_or_default();
                    self.ctx
                        .store()
                        .finish_sync_run(&RunEnd {
                            run_id: run.id.clone(),
                            connection_id: run.connection_id.clone(),
                            workspace_id: run.workspace_id.clone(),
                            entities,
                            full: run.mode == "full",
                            status: "failed".into(),
                            error: Some(error.to_string()),
                            events: vec![],
                        })
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Renews the lease at a third of its length; flags `lost` if the job is no longer ours.
    fn spawn_renewer(
        &self,
        job_id: &str,
        worker: &str,
        lost: Arc<AtomicBool>,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        let (job_id, worker) = (job_id.to_string(), worker.to_string());
        let every = Duration::from_millis((self.state.job_lease_ms / 3).max(100) as u64);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let until = now_ms() + engine.state.job_lease_ms;
                match engine
                    .ctx
                    .store()
                    .renew_lease(&job_id, &worker, until)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        lost.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(e) => tracing::warn!(job = %job_id, error = %e, "lease renewal failed"),
                }
            }
        })
    }

    /// Runs `options.concurrency` worker loops until `cancel` turns true; each finishes the job
    /// in hand before stopping.
    pub fn spawn_workers(
        &self,
        name: &str,
        options: WorkerOptions,
        cancel: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..options.concurrency.max(1))
            .map(|n| {
                let engine = self.clone();
                let worker = format!("{name}/{n}");
                let mut cancel = cancel.clone();
                let poll = options.poll_interval;
                tokio::spawn(async move {
                    while !*cancel.borrow() {
                        match engine.try_run_one(&worker).await {
                            Ok(RunOutcome::Ran { .. }) => continue,
                            Ok(RunOutcome::Empty) => {}
                            Err(e) => {
                                tracing::warn!(worker = %worker, error = %e, "worker step failed")
                            }
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(poll) => {}
                            _ = cancel.changed() => {}
                        }
                    }
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::retry_delay;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        let d1 = retry_delay(1).as_millis();
        assert!((4_000..=6_000).contains(&d1), "{d1}");
        let d3 = retry_delay(3).as_millis();
        assert!((16_000..=24_000).contains(&d3), "{d3}");
        assert!(retry_delay(40).as_millis() <= 4_320_000);
    }
}

//! Actions run under an `Idempotency-Key`: the first request with a key runs the action and
//! keeps its result; a retry with the same key and the same input gets that result without a
//! second call to the provider; the same key with another input is a conflict. Failed runs
//! keep nothing, so the caller can retry them with the same key. A run outlives its request
//! (a caller hanging up does not abandon it), and a key held by a run whose process died is
//! taken over by a retry after [`ACTION_LEASE_MS`].

use super::ActionOutcome;
use super::Actions;
use crate::auth::Caller;
use crate::error::{EngineError, Result};
use patchbay_core::now_ms;
use patchbay_store::{ActionClaim, ActionRunRow};
use serde_json::Value;

/// Longest idempotency key accepted.
const MAX_KEY_LEN: usize = 255;
/// How long a run may hold its key: past this a retry of the same request takes it over, as
/// the process running it must have died (a run in a live process finishes or fails well
/// within it, each provider call being bounded by the outbound timeout).
pub const ACTION_LEASE_MS: i64 = 10 * 60 * 1000;

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(EngineError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        )));
    }
    Ok(())
}

/// What identifies "the same request": the action and its input (keys sorted by serde_json).
fn request_hash(action: &str, input: &Value) -> String {
    let text = format!("{action}\n{input}");
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
}

impl Actions {
    /// [`Actions::run_action`], made idempotent by `key` when one is given.
    pub async fn run_action_idempotent(
        &self,
        caller: &Caller,
        id: &str,
        action: &str,
        input: Value,
        key: Option<&str>,
    ) -> Result<ActionOutcome> {
        let Some(key) = key else {
            return self.run_action(caller, id, action, input).await;
        };
        check_key(key)?;
        // Tenancy, authorization and input come first, once: another workspace's connection
        // is not found, a stored result is only for callers who may run the action now, and
        // input that could never run takes no key.
        let authorized = self.authorize_run(caller, id, action, &input).await?;
        let row = authorized.row.clone();
        let hash = request_hash(action, &input);
        let now = now_ms();
        let claim = self
            .ctx
            .store()
            .claim_action_run(
                &ActionRunRow {
                    connection_id: row.id.clone(),
                    idempotency_key: key.to_string(),
                    workspace_id: row.workspace_id.clone(),
                    action: action.to_string(),
                    input_hash: hash.clone(),
                    status: "running".into(),
                    result: None,
                    created_at: now,
                    completed_at: None,
                },
                now - ACTION_LEASE_MS,
            )
            .await?;
        match claim {
            ActionClaim::Claimed => {
                // The run goes on if the caller hangs up, so its outcome is kept (or its key
                // freed) and a retry finds one or the other instead of a key held forever.
                let (engine, caller, id, action, key) = (
                    self.clone(),
                    caller.clone(),
                    id.to_string(),
                    action.to_string(),
                    key.to_string(),
                );
                let run = tokio::spawn(async move {
                    let outcome = engine
                        .run_authorized(&caller, authorized, &action, input)
                        .await;
                    let kept = match &outcome {
                        Ok(done) => {
                            engine
                                .ctx
                                .store()
                                .finish_action_run(
                                    &id,
                                    &key,
                                    "completed",
                                    &done.result.to_string(),
                                    now_ms(),
                                )
                                .await
                        }
                        Err(_) => engine.ctx.store().release_action_run(&id, &key).await,
                    };
                    kept?;
                    outcome
                });
                match run.await {
                    Ok(outcome) => outcome,
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    // Only a runtime shutting down cancels it; the lease frees the key later.
                    Err(_) => Err(EngineError::Conflict(
                        "the action was interrupted by a shutdown; retry with the same Idempotency-Key".into(),
                    )),
                }
            }
            ActionClaim::Existing(run) => {
                if run.action != action || run.input_hash != hash {
                    return Err(EngineError::Conflict(
                        "this Idempotency-Key was used for a different request".into(),
                    ));
                }
                match (run.status.as_str(), run.result) {
                    ("completed", Some(result)) => Ok(ActionOutcome {
                        action: action.to_string(),
                        result: serde_json::from_str(&result).unwrap_or(Value::Null),
                        replayed: true,
                    }),
                    _ => Err(EngineError::Conflict(
                        "a request with this Idempotency-Key is still running".into(),
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_hashes() {
        assert!(check_key("order-42/retry").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("with space").is_err());
        assert!(check_key(&"k".repeat(256)).is_err());
        let a = request_hash("close_task", &json!({"task_id": "1", "note": "x"}));
        let b = request_hash("close_task", &json!({"note": "x", "task_id": "1"}));
        assert_eq!(a, b, "key order does not matter");
        assert_ne!(
            a,
            request_hash("close_task", &json!({"task_id": "2", "note": "x"}))
        );
        assert_ne!(
            a,
            request_hash("reopen_task", &json!({"task_id": "1", "note": "x"}))
        );
    }
}

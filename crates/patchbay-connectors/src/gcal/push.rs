//! Push: one `events.watch` channel per synced calendar, addressed to the connection's webhook
//! URL and carrying the connection's channel token. A renewal opens new channels before the
//! old ones are stopped, so no change falls between them. Notifications carry no data: `sync`
//! confirms a new channel, `exists` and `not_exists` say the calendar changed.

use crate::google::Api;
use patchbay_core::{ConnectorError, Watch, WebhookOutcome, WebhookRequest};
use reqwest::Method;
use serde_json::{json, Value};

/// Channel lifetime asked for (Google may grant less; its answer decides).
const TTL_SECONDS: u64 = 7 * 86_400;

pub async fn watch(
    api: &Api<'_>,
    calendars: &[String],
    address: &str,
    token: &str,
    previous: Option<&Watch>,
) -> Result<Watch, ConnectorError> {
    let mut channels = Vec::with_capacity(calendars.len());
    let mut expires_at_ms = i64::MAX;
    for calendar in calendars {
        let id = format!("pb-{:032x}", rand::random::<u128>());
        let body = json!({"id": id, "type": "web_hook", "address": address, "token": token,
                          "params": {"ttl": TTL_SECONDS.to_string()}});
        let answer = match api
            .post(&["calendars", calendar, "events", "watch"], &body)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                // Half-opened renewals must not leak channels.
                stop_all(api, &channels).await;
                return Err(e);
            }
        };
        let expiration = answer["expiration"]
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .or_else(|| answer["expiration"].as_i64())
            .unwrap_or_else(|| patchbay_core::now_ms() + TTL_SECONDS as i64 * 1000);
        expires_at_ms = expires_at_ms.min(expiration);
        channels.push(json!({"calendar_id": calendar, "id": answer["id"],
                             "resource_id": answer["resourceId"], "expiration": expiration}));
    }
    if let Some(old) = previous {
        stop_all(api, old.state["channels"].as_array().map_or(&[][..], |v| v)).await;
    }
    if channels.is_empty() {
        return Err(ConnectorError::Config("no calendar to watch".into()));
    }
    Ok(Watch {
        expires_at_ms,
        state: json!({"channels": channels}),
    })
}

/// Stops every channel, best-effort: one that is already gone is fine.
pub async fn stop_all(api: &Api<'_>, channels: &[Value]) {
    for c in channels {
        let body = json!({"id": c["id"], "resourceId": c["resource_id"]});
        if let Err(e) = api
            .send(Method::POST, &["channels", "stop"], &[], Some(&body))
            .await
        {
            if !matches!(e, ConnectorError::NotFound(_)) {
                tracing::warn!(error = %e, "a calendar channel could not be stopped");
            }
        }
    }
}

/// A verified notification: a change means an incremental sync of events.
pub fn outcome(req: &WebhookRequest) -> Result<WebhookOutcome, ConnectorError> {
    let state = req
        .header("X-Goog-Resource-State")
        .ok_or_else(|| ConnectorError::BadPayload("no X-Goog-Resource-State".into()))?;
    let resync = match state {
        "sync" => Vec::new(),
        "exists" | "not_exists" => vec!["events".to_string()],
        other => {
            return Err(ConnectorError::BadPayload(format!(
                "unknown resource state '{other}'"
            )))
        }
    };
    Ok(WebhookOutcome {
        delivery_id: None,
        event_type: format!("calendar.{state}"),
        resync,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_state(state: Option<&str>) -> WebhookRequest {
        WebhookRequest {
            headers: state
                .map(|s| ("x-goog-resource-state".to_string(), s.to_string()))
                .into_iter()
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn resource_states_decide_the_resync() {
        assert!(outcome(&with_state(Some("sync")))
            .unwrap()
            .resync
            .is_empty());
        assert_eq!(
            outcome(&with_state(Some("exists"))).unwrap().resync,
            ["events"]
        );
        assert_eq!(
            outcome(&with_state(Some("not_exists"))).unwrap().resync,
            ["events"]
        );
        assert!(matches!(
            outcome(&with_state(Some("bogus"))),
            Err(ConnectorError::BadPayload(_))
        ));
        assert!(matches!(
            outcome(&with_state(None)),
            Err(ConnectorError::BadPayload(_))
        ));
    }
}

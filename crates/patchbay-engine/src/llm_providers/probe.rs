//! Testing a provider: `GET {base_url}/models` through the outbound client (its timeout, no
//! redirects, the private-network policy), read as OpenAI's model list.

use patchbay_connectors::HttpClient;
use patchbay_core::{ConnectorError, Secret};
use reqwest::header::{HeaderName, HeaderValue, ACCEPT};
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeMap;

/// Most model ids kept from one answer.
const MAX_DISCOVERED: usize = 1000;
const MAX_MODEL_CHARS: usize = 200;

/// The ids of the models the provider lists, in its order, without duplicates.
pub(super) async fn list_models(
    http: &HttpClient,
    base_url: &str,
    api_key: Option<&Secret>,
    headers: &BTreeMap<String, Secret>,
) -> Result<Vec<String>, ConnectorError> {
    let mut req = http
        .request(Method::GET, format!("{base_url}/models"))?
        .header(ACCEPT, "application/json");
    for (name, value) in headers {
        let (Ok(name), Ok(mut value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.expose()),
        ) else {
            // Checked when stored; a row edited by hand is skipped rather than sent broken.
            continue;
        };
        // Sensitive values are kept out of error messages by the client.
        value.set_sensitive(true);
        req = req.header(name, value);
    }
    if let Some(key) = api_key {
        req = req.bearer_auth(key.expose());
    }
    let (body, _) = http.send_json(req).await?;
    model_ids(&body)
}

/// `{"object": "list", "data": [{"id": …}, …]}` into ids; anything else is a bad answer.
fn model_ids(body: &Value) -> Result<Vec<String>, ConnectorError> {
    let not_a_list = || {
        ConnectorError::BadResponse(
            "the answer is not an OpenAI model list ({\"object\": \"list\", \"data\": [{\"id\": …}]})"
                .into(),
        )
    };
    let data = body
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(not_a_list)?;
    let mut ids: Vec<String> = Vec::new();
    for model in data {
        let id = model
            .get("id")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|id| {
                !id.is_empty()
                    && id.chars().count() <= MAX_MODEL_CHARS
                    && !id.chars().any(char::is_control)
            })
            .ok_or_else(not_a_list)?;
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_string());
        }
        if ids.len() == MAX_DISCOVERED {
            break;
        }
    }
    Ok(ids)
}

/// Removes every secret value from a message before it is stored or shown: the client
/// already scrubs what it sent, this also covers whatever the provider echoed in other forms.
fn scrub(message: &str, secrets: &[&Secret]) -> String {
    secrets
        .iter()
        .map(|s| s.expose())
        .filter(|s| s.len() >= 4)
        .fold(message.to_string(), |m, s| m.replace(s, "[redacted]"))
}

/// What a failed test answers: a refused key stays `Unauthorized` (502
/// `provider_unauthorized`) and a rate limit `RateLimited` (429); anything else the provider
/// did (a 404 for `/models`, a 5xx, a redirect, an unreadable answer) or the network did is a
/// 502 `provider_error`, since the fault is not in the request made to patchbay. Messages
/// never carry the key or a header value.
pub(super) fn upstream_error(e: ConnectorError, hidden: &[&Secret]) -> ConnectorError {
    let clean = |m: &str| scrub(m, hidden);
    match e {
        ConnectorError::Unauthorized { status, message } => ConnectorError::Unauthorized {
            status,
            message: clean(&message),
        },
        ConnectorError::RateLimited { .. } => e,
        ConnectorError::Network(message) => ConnectorError::Network(clean(&message)),
        ConnectorError::Provider { status, message } if status >= 500 => ConnectorError::Provider {
            status,
            message: clean(&message),
        },
        ConnectorError::Provider { status, message } => ConnectorError::BadResponse(format!(
            "GET /models answered {status}: {}",
            clean(&message)
        )),
        ConnectorError::NotFound(message) => ConnectorError::BadResponse(format!(
            "GET /models answered 404: {}; is base_url the API root (such as …/v1)?",
            clean(&message)
        )),
        ConnectorError::BadResponse(message) | ConnectorError::Config(message) => {
            ConnectorError::BadResponse(clean(&message))
        }
        other => ConnectorError::BadResponse(clean(&other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_openai_lists_only() {
        let list = json!({"object": "list", "data": [{"id": "a"}, {"id": "b"}, {"id": "a"}]});
        assert_eq!(model_ids(&list).unwrap(), ["a", "b"]);
        for bad in [json!({"data": [{"name": "x"}]}), json!([1]), json!("x")] {
            assert!(matches!(
                model_ids(&bad),
                Err(ConnectorError::BadResponse(_))
            ));
        }
    }
}

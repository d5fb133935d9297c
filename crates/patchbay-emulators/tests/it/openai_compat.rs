//! The OpenAI-compatible emulator: model list, chat completions, key check and faults, in
//! OpenAI's shapes.

use crate::{http, Answer};
use patchbay_emulators::openai_compat::{self, OpenAiConfig, OpenAiEmulator};
use serde_json::{json, Value};

async fn emulator() -> OpenAiEmulator {
    openai_compat::spawn(OpenAiConfig::default()).await.unwrap()
}

async fn call(emu: &OpenAiEmulator, key: Option<&str>, path: &str, body: Option<Value>) -> Answer {
    let url = format!("{}{path}", emu.base_url);
    let mut req = match &body {
        Some(b) => http().post(url).json(b),
        None => http().get(url),
    };
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    Answer::from(req.send().await.unwrap()).await
}

/// Asserts OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`.
#[track_caller]
fn assert_openai_error(a: &Answer, status: u16, kind: &str, code: Value) {
    assert_eq!(a.status.as_u16(), status, "{}", a.text);
    let e = &a.json()["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    assert_eq!(e["type"], kind, "{e}");
    assert_eq!(e["code"], code, "{e}");
    assert!(e.as_object().unwrap().contains_key("param"), "{e}");
}

#[tokio::test]
async fn lists_models_in_openai_shape() {
    let emu = emulator().await;
    let key = emu.config().api_key.clone();
    let a = call(&emu, Some(&key), "/v1/models", None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let list = a.json();
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["object"], "model");
            assert!(m["created"].is_i64() && m["owned_by"].is_string(), "{m}");
            m["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(ids, ["echo-1", "echo-1-mini"]);
    let one = call(&emu, Some(&key), "/v1/models/echo-1", None).await;
    assert_eq!(one.json()["id"], "echo-1");
    let missing = call(&emu, Some(&key), "/v1/models/nope", None).await;
    assert_openai_error(
        &missing,
        404,
        "invalid_request_error",
        json!("model_not_found"),
    );
}

#[tokio::test]
async fn chat_completions_echo_deterministically() {
    let emu = emulator().await;
    let key = emu.config().api_key.clone();
    let body = json!({"model": "echo-1", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
    ]});
    let a = call(&emu, Some(&key), "/v1/chat/completions", Some(body.clone())).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let c = a.json();
    assert_eq!(c["object"], "chat.completion");
    assert_eq!(c["model"], "echo-1");
    let choice = &c["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Echo: hello there");
    assert_eq!(
        c["usage"],
        json!({"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7})
    );
    let again = call(&emu, Some(&key), "/v1/chat/completions", Some(body)).await;
    assert_eq!(
        again.json()["choices"],
        c["choices"],
        "same question, same answer"
    );
    assert_ne!(again.json()["id"], c["id"]);
    assert_eq!(emu.completion_count(), 2);

    let unknown = json!({"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]});
    let a = call(&emu, Some(&key), "/v1/chat/completions", Some(unknown)).await;
    assert_openai_error(&a, 404, "invalid_request_error", json!("model_not_found"));
    let empty = json!({"model": "echo-1", "messages": []});
    let a = call(&emu, Some(&key), "/v1/chat/completions", Some(empty)).await;
    assert_openai_error(&a, 400, "invalid_request_error", Value::Null);
    assert_eq!(a.json()["error"]["param"], "messages");
}

#[tokio::test]
async fn keys_are_checked_without_echoing_them() {
    let emu = emulator().await;
    let wrong = "sk-wrong-key-0123456789";
    let a = call(&emu, Some(wrong), "/v1/models", None).await;
    assert_openai_error(&a, 401, "invalid_request_error", json!("invalid_api_key"));
    assert!(!a.text.contains(wrong) && !a.text.contains("0123456789"));
    let a = call(&emu, None, "/v1/models", None).await;
    assert_openai_error(&a, 401, "invalid_request_error", Value::Null);
    let key = emu.config().api_key.clone();
    let a = call(&emu, Some(&key), "/v1/nothing", None).await;
    assert_openai_error(&a, 404, "invalid_request_error", Value::Null);
}

#[tokio::test]
async fn faults_rate_limits_failures_and_garbage() {
    let emu = emulator().await;
    let key = emu.config().api_key.clone();
    emu.rate_limit_next(1);
    let a = call(&emu, Some(&key), "/v1/models", None).await;
    assert_openai_error(&a, 429, "requests", json!("rate_limit_exceeded"));
    assert_eq!(a.header("retry-after"), "1");
    emu.fail_next(1);
    let a = call(&emu, Some(&key), "/v1/models", None).await;
    assert_openai_error(&a, 500, "server_error", Value::Null);
    emu.garbage_next(1);
    let a = call(&emu, Some(&key), "/v1/models", None).await;
    assert_eq!(a.status, 200);
    assert!(
        serde_json::from_str::<Value>(&a.text).is_err(),
        "{}",
        a.text
    );
    let a = call(&emu, Some(&key), "/v1/models", None).await;
    assert_eq!(a.status, 200, "faults are used up");
    assert_eq!(emu.api_url(), format!("{}/v1", emu.base_url));
}

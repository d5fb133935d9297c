//! Run-time fault injection shared by the emulators, applied as the outermost middleware.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct FaultSettings {
    pub fail: u32,
    pub rate_limit: u32,
    pub truncate: u32,
    pub latency: Duration,
}

/// A partner's error body for a status and message.
pub type RenderError = fn(StatusCode, &str) -> Value;

pub struct Faults {
    settings: Mutex<FaultSettings>,
    requests: AtomicU64,
    render: RenderError,
}

enum Fault {
    Fail,
    RateLimit,
    Truncate,
}

impl Faults {
    pub fn new(render: RenderError) -> Arc<Self> {
        Arc::new(Faults {
            settings: Mutex::default(),
            requests: AtomicU64::new(0),
            render,
        })
    }

    pub fn update(&self, f: impl FnOnce(&mut FaultSettings)) {
        f(&mut self.settings.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    fn take(&self) -> (Duration, Option<Fault>) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        let fault = if s.fail > 0 {
            s.fail -= 1;
            Some(Fault::Fail)
        } else if s.rate_limit > 0 {
            s.rate_limit -= 1;
            Some(Fault::RateLimit)
        } else if s.truncate > 0 {
            s.truncate -= 1;
            Some(Fault::Truncate)
        } else {
            None
        };
        (s.latency, fault)
    }
}

pub async fn apply(State(faults): State<Arc<Faults>>, req: Request, next: Next) -> Response {
    faults.requests.fetch_add(1, Ordering::SeqCst);
    let (latency, fault) = faults.take();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        None => next.run(req).await,
        Some(Fault::Fail) => {
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            (status, Json((faults.render)(status, "injected failure"))).into_response()
        }
        Some(Fault::RateLimit) => {
            let status = StatusCode::TOO_MANY_REQUESTS;
            let body = (faults.render)(status, "too many requests");
            (status, [(header::RETRY_AFTER, "1")], Json(body)).into_response()
        }
        Some(Fault::Truncate) => {
            let (mut parts, body) = next.run(req).await.into_parts();
            let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(cut))
        }
    }
}

//! Request metrics in the Prometheus text format: counts by method, route and status, and a
//! latency histogram per route. Routes are the matched patterns, so ids never become labels.

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};

const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
pub struct Metrics {
    /// By matched route; a request takes one lock and allocates only for a route's first use.
    routes: Mutex<BTreeMap<String, RouteStats>>,
}

#[derive(Default)]
struct RouteStats {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: Histogram,
}

#[derive(Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    fn observe(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().expect("metrics lock");
        if !routes.contains_key(route) {
            routes.insert(route.to_string(), RouteStats::default());
        }
        let stats = routes.get_mut(route).expect("inserted above");
        *stats.requests.entry((method, status)).or_default() += 1;
        let h = &mut stats.latency;
        h.count += 1;
        h.sum += seconds;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.buckets[i] += 1;
            }
        }
    }

    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP patchbay_up Whether the server is up.\n# TYPE patchbay_up gauge\npatchbay_up 1\n");
        out.push_str(
            "# HELP patchbay_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE patchbay_http_requests_total counter\n");
        let routes = self.routes.lock().expect("metrics lock");
        for (route, stats) in routes.iter() {
            for ((method, status), n) in &stats.requests {
                let _ = writeln!(out, "patchbay_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        out.push_str("# HELP patchbay_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE patchbay_http_request_duration_seconds histogram\n");
        for (route, stats) in routes.iter() {
            let h = &stats.latency;
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "patchbay_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {}", h.buckets[i]);
            }
            let _ = writeln!(
                out,
                "patchbay_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "patchbay_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "patchbay_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out
    }
}

/// The one layer every route gets: the body-size limit, request metrics and a debug log line.
/// One hand-written layer rather than several stacked ones: each `Router::layer` boxes every
/// route once more, and every request then clones each box.
#[derive(Clone)]
pub struct ObserveLayer {
    pub metrics: Arc<Metrics>,
    pub body_limit: usize,
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<DefaultBodyLimitService<S>>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner: DefaultBodyLimit::max(self.body_limit).layer(inner),
            metrics: self.metrics.clone(),
        }
    }
}

type DefaultBodyLimitService<S> = <DefaultBodyLimit as Layer<S>>::Service;

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let route = req.extensions().get::<MatchedPath>().cloned();
        // Only standard methods become labels, so odd requests cannot grow the series.
        let method = match *req.method() {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::HEAD => "HEAD",
            Method::OPTIONS => "OPTIONS",
            _ => "OTHER",
        };
        let metrics = self.metrics.clone();
        let start = Instant::now();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let resp = answer.await?;
            let route = route.as_ref().map_or("unmatched", |m| m.as_str());
            let elapsed = start.elapsed();
            let status = resp.status().as_u16();
            metrics.observe(method, route, status, elapsed.as_secs_f64());
            tracing::debug!(
                method,
                route,
                status,
                latency_us = elapsed.as_micros() as u64,
                "request"
            );
            Ok(resp)
        })
    }
}

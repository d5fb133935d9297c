//! Idle timeouts for streamed exchanges (the proxy): an exchange may take as long as bytes
//! keep moving either way, and ends once nothing has moved for the outbound timeout. A total
//! deadline would cut off long downloads and uploads; a plain read timeout would count a slow
//! upload's whole duration as silence while waiting for the answer's head.

use bytes::Bytes;
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// When bytes last moved, shared by the request body and the wait for the answer.
#[derive(Clone)]
pub struct Activity {
    start: Instant,
    /// Milliseconds after `start`.
    last: Arc<AtomicU64>,
}

impl Activity {
    pub fn new() -> Self {
        Activity {
            start: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// `body` with every part it yields counted as activity.
    pub fn watch<S, E>(&self, body: S) -> impl Stream<Item = Result<Bytes, E>> + Send + 'static
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    {
        use futures_util::StreamExt;
        let activity = self.clone();
        body.inspect(move |_| activity.touch())
    }

    /// Runs `fut` until it finishes, or `None` once nothing has moved for `idle`.
    pub async fn within<F: Future>(&self, fut: F, idle: Duration) -> Option<F::Output> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Some(out),
                _ = tokio::time::sleep_until(self.last() + idle) => {
                    if self.last() + idle <= Instant::now() {
                        return None;
                    }
                }
            }
        }
    }
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

/// A body that fails once its source has been silent for `idle` while it was being read.
/// The source is taken as it is (already pinned where it must be): one allocation fewer on
/// every proxied answer.
/// Time the reader spends elsewhere (a slow client) does not count; the timer is armed only
/// while waiting for the source, so a body that is ready at once costs no timer.
pub struct IdleLimited<S> {
    inner: S,
    sleep: Pin<Box<Sleep>>,
    idle: Duration,
    armed: bool,
}

impl<S> IdleLimited<S> {
    pub fn new(inner: S, idle: Duration) -> Self {
        IdleLimited {
            inner,
            sleep: Box::pin(tokio::time::sleep(idle)),
            idle,
            armed: false,
        }
    }
}

impl<S, E> Stream for IdleLimited<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(item) => {
                this.armed = false;
                Poll::Ready(item.map(|r| r.map_err(std::io::Error::other)))
            }
            Poll::Pending => {
                if !this.armed {
                    let deadline = Instant::now() + this.idle;
                    this.sleep.as_mut().reset(deadline);
                    this.armed = true;
                }
                match this.sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the provider stopped sending",
                    )))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn silence_not_duration_ends_an_exchange() {
        let idle = Duration::from_millis(300);
        // Parts 100 ms apart never leave 300 ms of silence, though they take 500 ms in all.
        let steady = futures_util::stream::iter(0..5).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok::<_, std::io::Error>(Bytes::from(vec![i as u8]))
        });
        let got: Vec<_> = IdleLimited::new(Box::pin(steady), idle).collect().await;
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(Result::is_ok));
        // One part, then nothing: an error after the silence.
        let stalled = futures_util::stream::once(async { Ok::<_, std::io::Error>(Bytes::new()) })
            .chain(futures_util::stream::pending());
        let mut limited = IdleLimited::new(Box::pin(stalled), idle);
        assert!(limited.next().await.unwrap().is_ok());
        let started = Instant::now();
        let err = limited.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= idle);

        // A wait that sees activity keeps going past the idle time; one that sees none stops.
        let activity = Activity::new();
        let a = activity.clone();
        let upload = async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                a.touch();
            }
            "answered"
        };
        assert_eq!(activity.within(upload, idle).await, Some("answered"));
        let quiet = Activity::new();
        assert_eq!(quiet.within(std::future::pending::<()>(), idle).await, None);
    }
}

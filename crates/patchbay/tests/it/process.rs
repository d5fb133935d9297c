//! Running the `patchbay` binary: one-shot commands and a server that is waited on, not slept on.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ADMIN: &str = "pbadmin_process_test_0123456789";

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join("patchbay-bin-tests")
        .join(format!("{tag}-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}-{}", std::process::id())
}

fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_patchbay"));
    cmd.current_dir(dir).args(args);
    // Start from a clean slate of patchbay settings.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PATCHBAY_")) {
        cmd.env_remove(k);
    }
    cmd.env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

pub fn patchbay(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(dir, args, env).output().expect("run patchbay")
}

pub struct Server {
    child: Child,
    pub base: String,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    client: reqwest::Client,
}

fn pump(
    stream: impl std::io::Read + Send + 'static,
    sink: Arc<Mutex<String>>,
    tx: Option<std::sync::mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(tx) = &tx {
                if let Some(url) = line.strip_prefix("patchbay listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
}

fn pump_until(
    stream: impl std::io::Read + Send + 'static,
    sink: Arc<Mutex<String>>,
    tx: std::sync::mpsc::Sender<String>,
    marker: &'static str,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if line.contains(marker) {
                let _ = tx.send(line.clone());
            }
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
}

impl Server {
    /// Starts the server and returns once it says where it listens and answers `/readyz`.
    pub async fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = command(dir, args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn patchbay");
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        pump(child.stdout.take().unwrap(), out.clone(), Some(tx));
        pump(child.stderr.take().unwrap(), err.clone(), None);
        let base = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await
            .unwrap()
            .unwrap_or_else(|_| panic!("server did not start: {}", err.lock().unwrap()));
        let client = reqwest::Client::new();
        let ready = client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("readyz");
        assert_eq!(ready.status(), 200);
        Server {
            child,
            base,
            out,
            err,
            client,
        }
    }

    /// Starts `patchbay worker` and returns once it says it runs.
    pub async fn start_worker(dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut child = command(dir, &["worker"], env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn worker");
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        pump_until(
            child.stdout.take().unwrap(),
            out.clone(),
            tx,
            "patchbay worker running",
        );
        pump(child.stderr.take().unwrap(), err.clone(), None);
        let err2 = err.clone();
        tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await
            .unwrap()
            .unwrap_or_else(|_| panic!("worker did not start: {}", err2.lock().unwrap()));
        Server {
            child,
            base: String::new(),
            out,
            err,
            client: reqwest::Client::new(),
        }
    }

    /// SIGKILL: no chance to clean up, as when a machine dies.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let mut waited = 0;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the pipe readers drain the last lines.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return status;
            }
            waited += 1;
            assert!(waited < 600, "server did not stop within 30 s of SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

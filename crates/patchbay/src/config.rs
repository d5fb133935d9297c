//! Configuration, layered: built-in defaults → file (`patchbay.toml` or `--config`) →
//! `PATCHBAY_*` environment → command-line flags; validated before anything starts.

use patchbay_store::DatabaseUrl;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// One layer of settings; every field optional so layers can be merged.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Address to listen on.
    pub bind: Option<String>,
    /// `sqlite:PATH` or `postgres://…`.
    pub database_url: Option<DatabaseUrl>,
    /// Where the default SQLite database and dev keys live.
    pub data_dir: Option<PathBuf>,
    /// File holding the base64 master key (instead of PATCHBAY_MASTER_KEY).
    pub master_key_file: Option<PathBuf>,
    /// File holding the admin key (instead of PATCHBAY_ADMIN_KEY).
    pub admin_key_file: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: Option<String>,
    /// A tracing filter such as `info` or `patchbay=debug`.
    pub log_level: Option<String>,
    /// Largest accepted request body in bytes.
    pub body_limit_bytes: Option<usize>,
    /// `true`, `false`, or a comma-separated CIDR list of private networks outbound calls may reach.
    pub allow_private_networks: Option<String>,
    /// Timeout of every outbound HTTP call.
    pub http_timeout_seconds: Option<u64>,
    /// How often a server re-reads the keyring (a rotation elsewhere adds keys).
    pub keyring_refresh_seconds: Option<u64>,
    /// The URL browsers reach this server at; OAuth redirect URIs are built from it.
    pub public_url: Option<String>,
    /// A provider catalog file merged over the built-in one.
    pub providers_file: Option<PathBuf>,
    /// Jobs each process runs at once.
    pub worker_concurrency: Option<usize>,
    /// How long a worker's claim on a job lasts without renewal.
    pub job_lease_seconds: Option<u64>,
    /// How often the scheduler looks for due syncs.
    pub scheduler_interval_seconds: Option<u64>,
    /// Syncs of one provider each process runs at once.
    pub provider_concurrency: Option<usize>,
    /// Threads of the async runtime (default: one per CPU core).
    pub runtime_threads: Option<usize>,
}

impl Layer {
    fn merge(&mut self, over: Layer) {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f; } )* };
        }
        take!(
            bind,
            database_url,
            data_dir,
            master_key_file,
            admin_key_file,
            log_format,
            log_level,
            body_limit_bytes,
            allow_private_networks,
            http_timeout_seconds,
            keyring_refresh_seconds,
            public_url,
            providers_file,
            worker_concurrency,
            job_lease_seconds,
            scheduler_interval_seconds,
            provider_concurrency,
            runtime_threads
        );
    }
}

/// Settings after merging and validation.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: DatabaseUrl,
    pub data_dir: PathBuf,
    pub master_key_file: Option<PathBuf>,
    pub admin_key_file: Option<PathBuf>,
    pub json_logs: bool,
    pub log_level: String,
    pub body_limit_bytes: usize,
    pub allow_private_networks: String,
    pub http_timeout_seconds: u64,
    pub keyring_refresh_seconds: u64,
    pub public_url: String,
    pub providers_file: Option<PathBuf>,
    pub worker_concurrency: usize,
    pub job_lease_seconds: u64,
    pub scheduler_interval_seconds: u64,
    pub provider_concurrency: usize,
    /// `None`: one per CPU core.
    pub runtime_threads: Option<usize>,
}

/// Environment variables read as configuration, with the field each sets.
const ENV_FIELDS: &[&str] = &[
    "BIND",
    "DATABASE_URL",
    "DATA_DIR",
    "MASTER_KEY_FILE",
    "ADMIN_KEY_FILE",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "BODY_LIMIT_BYTES",
    "ALLOW_PRIVATE_NETWORKS",
    "HTTP_TIMEOUT_SECONDS",
    "KEYRING_REFRESH_SECONDS",
    "PUBLIC_URL",
    "PROVIDERS_FILE",
    "WORKER_CONCURRENCY",
    "JOB_LEASE_SECONDS",
    "SCHEDULER_INTERVAL_SECONDS",
    "PROVIDER_CONCURRENCY",
    "RUNTIME_THREADS",
];

/// Other `PATCHBAY_*` variables that are known (secrets and paths read elsewhere).
const ENV_OTHER: &[&str] = &["CONFIG", "MASTER_KEY", "ADMIN_KEY", "TEST_POSTGRES_URL"];

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

fn defaults() -> Layer {
    Layer {
        bind: Some(DEFAULT_BIND.into()),
        data_dir: Some(PathBuf::from("./patchbay-data")),
        log_format: Some("text".into()),
        log_level: Some("info".into()),
        body_limit_bytes: Some(1024 * 1024),
        allow_private_networks: Some("false".into()),
        http_timeout_seconds: Some(30),
        keyring_refresh_seconds: Some(2),
        ..Layer::default()
    }
}

/// Reads `PATCHBAY_*` variables into a layer; returns warnings for unknown ones.
pub fn env_layer(
    vars: impl Iterator<Item = (String, String)>,
) -> Result<(Layer, Vec<String>), String> {
    let mut layer = Layer::default();
    let mut warnings = Vec::new();
    for (name, value) in vars {
        let Some(field) = name.strip_prefix("PATCHBAY_") else {
            continue;
        };
        let parse_num = |v: &str| {
            v.parse()
                .map_err(|_| format!("{name} must be a whole number, got '{v}'"))
        };
        match field {
            "BIND" => layer.bind = Some(value),
            "DATABASE_URL" => layer.database_url = Some(DatabaseUrl::new(value)),
            "DATA_DIR" => layer.data_dir = Some(value.into()),
            "MASTER_KEY_FILE" => layer.master_key_file = Some(value.into()),
            "ADMIN_KEY_FILE" => layer.admin_key_file = Some(value.into()),
            "LOG_FORMAT" => layer.log_format = Some(value),
            "LOG_LEVEL" => layer.log_level = Some(value),
            "BODY_LIMIT_BYTES" => layer.body_limit_bytes = Some(parse_num(&value)?),
            "ALLOW_PRIVATE_NETWORKS" => layer.allow_private_networks = Some(value),
            "HTTP_TIMEOUT_SECONDS" => layer.http_timeout_seconds = Some(parse_num(&value)? as u64),
            "KEYRING_REFRESH_SECONDS" => {
                layer.keyring_refresh_seconds = Some(parse_num(&value)? as u64)
            }
            "PUBLIC_URL" => layer.public_url = Some(value),
            "PROVIDERS_FILE" => layer.providers_file = Some(value.into()),
            "WORKER_CONCURRENCY" => layer.worker_concurrency = Some(parse_num(&value)?),
            "JOB_LEASE_SECONDS" => layer.job_lease_seconds = Some(parse_num(&value)? as u64),
            "SCHEDULER_INTERVAL_SECONDS" => {
                layer.scheduler_interval_seconds = Some(parse_num(&value)? as u64)
            }
            "PROVIDER_CONCURRENCY" => layer.provider_concurrency = Some(parse_num(&value)?),
            "RUNTIME_THREADS" => layer.runtime_threads = Some(parse_num(&value)?),
            f if ENV_OTHER.contains(&f) => {}
            _ => warnings.push(format!(
                "unknown environment variable {name} is ignored (known: {})",
                ENV_FIELDS
                    .iter()
                    .chain(ENV_OTHER)
                    .map(|f| format!("PATCHBAY_{f}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    Ok((layer, warnings))
}

pub fn file_layer(path: &Path) -> Result<Layer, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
}

/// Merges the layers and validates the result.
pub fn resolve(file: Option<Layer>, env: Layer, flags: Layer, dev: bool) -> Result<Config, String> {
    let mut l = defaults();
    if let Some(f) = file {
        l.merge(f);
    }
    l.merge(env);
    l.merge(flags);
    let data_dir = l.data_dir.clone().unwrap_or_default();
    let bind_text = l.bind.clone().unwrap_or_default();
    let bind: SocketAddr = bind_text
        .parse()
        .map_err(|_| format!("bind: '{bind_text}' is not an address like 127.0.0.1:8080"))?;
    let database_url = l.database_url.clone().unwrap_or_else(|| {
        DatabaseUrl::new(format!(
            "sqlite:{}?mode=rwc",
            data_dir.join("patchbay.db").display()
        ))
    });
    let text = database_url.expose();
    if !(text.starts_with("sqlite:")
        || text.starts_with("postgres:")
        || text.starts_with("postgresql:"))
    {
        return Err(format!(
            "database_url must start with sqlite: or postgres: (got '{database_url}')"
        ));
    }
    let json_logs = match l.log_format.as_deref() {
        Some("json") => true,
        Some("text") | None => false,
        Some(other) => return Err(format!("log_format must be text or json, got '{other}'")),
    };
    let body_limit_bytes = l.body_limit_bytes.unwrap_or_default();
    if body_limit_bytes == 0 {
        return Err("body_limit_bytes must be greater than 0".into());
    }
    let allow = l.allow_private_networks.clone().unwrap_or_default();
    patchbay_connectors::NetworkPolicy::parse(&allow)
        .map_err(|e| format!("allow_private_networks: {e}"))?;
    let log_level = l.log_level.clone().unwrap_or_else(|| "info".into());
    tracing_subscriber::EnvFilter::try_new(&log_level)
        .map_err(|e| format!("log_level '{log_level}': {e}"))?;
    let http_timeout_seconds = l.http_timeout_seconds.unwrap_or(30);
    if http_timeout_seconds == 0 {
        return Err("http_timeout_seconds must be greater than 0".into());
    }
    let public_url = l
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bind}"));
    match url::Url::parse(&public_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => return Err(format!("public_url: '{public_url}' is not an http(s) URL")),
    }
    let mut master_key_file = l.master_key_file.clone();
    let mut admin_key_file = l.admin_key_file.clone();
    if dev {
        master_key_file.get_or_insert_with(|| data_dir.join("master.key"));
        admin_key_file.get_or_insert_with(|| data_dir.join("admin.key"));
    }
    Ok(Config {
        bind,
        database_url,
        data_dir,
        master_key_file,
        admin_key_file,
        json_logs,
        log_level,
        body_limit_bytes,
        allow_private_networks: allow,
        http_timeout_seconds,
        keyring_refresh_seconds: l.keyring_refresh_seconds.unwrap_or(2).max(1),
        public_url: public_url.trim_end_matches('/').to_string(),
        providers_file: l.providers_file.clone(),
        worker_concurrency: l.worker_concurrency.unwrap_or(2).clamp(1, 64),
        job_lease_seconds: l.job_lease_seconds.unwrap_or(30).max(1),
        scheduler_interval_seconds: l.scheduler_interval_seconds.unwrap_or(15).max(1),
        provider_concurrency: l.provider_concurrency.unwrap_or(4).clamp(1, 256),
        runtime_threads: l.runtime_threads.map(|n| n.clamp(1, 256)),
    })
}

/// The commented default configuration printed by `patchbay config default`.
pub const DEFAULT_TOML: &str = r#"# patchbay configuration. Every setting can also come from a PATCHBAY_<NAME> environment
# variable (upper case) or a command-line flag; flags win over the environment, which wins over
# this file, which wins over the defaults shown here.

# Address the API listens on.
bind = "127.0.0.1:8080"

# Database: sqlite:PATH (embedded, the default) or postgres://user:pass@host/db (scale-out).
# database_url = "sqlite:./patchbay-data/patchbay.db?mode=rwc"

# Where the default SQLite database (and, with --dev, generated keys) live.
data_dir = "./patchbay-data"

# The master key wraps the data keys that encrypt every secret. Prefer PATCHBAY_MASTER_KEY
# (base64 of 32 random bytes: `openssl rand -base64 32` or `patchbay keys generate`);
# or point at a file holding the same text.
# master_key_file = "/etc/patchbay/master.key"

# Operators authenticate with the admin key: PATCHBAY_ADMIN_KEY or a file.
# admin_key_file = "/etc/patchbay/admin.key"

# Logs: "text" or "json"; level as a tracing filter.
log_format = "text"
log_level = "info"

# Largest request body accepted, in bytes (larger ones get 413).
body_limit_bytes = 1048576

# Outbound calls to private or loopback addresses are refused unless allowed here:
# "true", "false", or a comma-separated CIDR list such as "10.0.0.0/8,127.0.0.1/32".
allow_private_networks = "false"

# Timeout of every outbound HTTP call, in seconds.
http_timeout_seconds = 30

# How often each server re-reads the keyring, so `patchbay keys rotate` run elsewhere is seen.
keyring_refresh_seconds = 2

# Where browsers reach this server (behind a proxy, its public address). OAuth redirect URIs are
# <public_url>/v1/oauth/callback; register that with each provider. Default: http://<bind>.
# public_url = "https://patchbay.example.com"

# A provider catalog file merged over the built-in one, field by field: point a provider at
# GitHub Enterprise or a local stand-in, or add a provider.
# providers_file = "/etc/patchbay/providers.yaml"

# Background work: jobs each process runs at once, how long a claim on a job lasts without
# renewal (a stopped worker's jobs move to another after this), and how often due syncs are
# looked for.
worker_concurrency = 2
job_lease_seconds = 30
scheduler_interval_seconds = 15
# Syncs of one provider each process runs at once (on top of the provider's request budget).
provider_concurrency = 4

# Threads of the async runtime; by default one per CPU core. On a machine whose cores other
# busy processes share (a database, a load generator), fewer threads mean fewer hand-offs
# between them: see bench/README.md.
# runtime_threads = 1
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn layers_apply_in_order() {
        let file: Layer = toml::from_str(
            "bind = \"127.0.0.1:9000\"\nlog_format = \"json\"\nhttp_timeout_seconds = 5",
        )
        .unwrap();
        let (env, warnings) = env_layer(env(&[
            ("PATCHBAY_BIND", "127.0.0.1:9100"),
            ("PATCHBAY_NOPE", "1"),
            ("HOME", "/"),
        ]))
        .unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("PATCHBAY_NOPE"));
        let flags = Layer {
            bind: Some("127.0.0.1:9200".into()),
            ..Layer::default()
        };
        let c = resolve(Some(file.clone()), env.clone(), Layer::default(), false).unwrap();
        assert_eq!(c.bind.port(), 9100, "env beats file");
        assert!(c.json_logs, "file beats defaults");
        assert_eq!(c.http_timeout_seconds, 5);
        assert_eq!(c.runtime_threads, None, "one thread per core unless set");
        let c = resolve(Some(file), env, flags, false).unwrap();
        assert_eq!(c.bind.port(), 9200, "flags beat env");
        assert!(c.database_url.is_sqlite());
        let (threads, _) = env_layer(self::env(&[("PATCHBAY_RUNTIME_THREADS", "1")])).unwrap();
        let c = resolve(None, threads, Layer::default(), false).unwrap();
        assert_eq!(c.runtime_threads, Some(1));
    }

    #[test]
    fn invalid_values_are_explained() {
        let bad = |l: Layer| resolve(None, l, Layer::default(), false).unwrap_err();
        assert!(bad(Layer {
            bind: Some("nope".into()),
            ..Layer::default()
        })
        .contains("bind"));
        assert!(bad(Layer {
            database_url: Some(DatabaseUrl::new("mysql://x")),
            ..Layer::default()
        })
        .contains("sqlite: or postgres:"));
        assert!(bad(Layer {
            log_format: Some("xml".into()),
            ..Layer::default()
        })
        .contains("text or json"));
        assert!(bad(Layer {
            log_level: Some("loud=[".into()),
            ..Layer::default()
        })
        .contains("log_level"));
        assert!(bad(Layer {
            allow_private_networks: Some("maybe".into()),
            ..Layer::default()
        })
        .contains("allow_private_networks"));
        assert!(toml::from_str::<Layer>("bnd = 1")
            .unwrap_err()
            .to_string()
            .contains("bnd"));
        assert!(env_layer(env(&[("PATCHBAY_BODY_LIMIT_BYTES", "lots")])).is_err());
    }

    #[test]
    fn default_toml_parses_to_the_defaults() {
        let layer: Layer = toml::from_str(DEFAULT_TOML).unwrap();
        let c = resolve(Some(layer), Layer::default(), Layer::default(), false).unwrap();
        assert_eq!(c.bind.to_string(), DEFAULT_BIND);
        assert_eq!(c.body_limit_bytes, 1024 * 1024);
    }

    #[test]
    fn database_url_password_is_hidden() {
        let shown = patchbay_store::redact_url("postgres://app:hunter2@db:5432/patchbay");
        assert!(!shown.contains("hunter2"), "{shown}");
        let layer = Layer {
            database_url: Some(DatabaseUrl::new(
                "postgres://app:hunter2@db:5432/patchbay?password=hunter2",
            )),
            ..Layer::default()
        };
        let c = resolve(
            Some(layer.clone()),
            Layer::default(),
            Layer::default(),
            false,
        )
        .unwrap();
        for shown in [
            format!("{layer:?}"),
            format!("{c:?}"),
            c.database_url.to_string(),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("db:5432"), "{shown}");
        }
        assert!(
            c.database_url.expose().contains("hunter2"),
            "connecting still has it"
        );
    }
}

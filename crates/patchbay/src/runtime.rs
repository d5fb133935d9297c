//! Starting patchbay: configuration, logging, keys, the engine, and the server loop.

use crate::config::{self, Config, Layer};
use patchbay_core::Secret;
use patchbay_engine::{Engine, Vault};
use patchbay_store::Store;
use patchbay_vault::MasterKey;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub type AnyResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Resolves the configuration layers and starts logging; prints warnings once logging is up.
pub fn load_config(
    config_path: &Option<PathBuf>,
    flags: Layer,
    dev: bool,
) -> Result<Config, String> {
    let file = match config_path {
        Some(p) => Some(config::file_layer(p)?),
        None if Path::new("patchbay.toml").exists() => {
            Some(config::file_layer(Path::new("patchbay.toml"))?)
        }
        None => None,
    };
    // Non-UTF-8 variables are not ours to read; skip them rather than panic.
    let vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let (env, warnings) = config::env_layer(vars)?;
    let cfg = config::resolve(file, env, flags, dev)?;
    init_logging(&cfg);
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(cfg)
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.json_logs {
        builder.json().init();
    } else {
        builder.init();
    }
}

const NO_MASTER_KEY: &str = "no master key configured. Set PATCHBAY_MASTER_KEY to a base64-encoded 32-byte key \
(generate one with `patchbay keys generate` or `openssl rand -base64 32`), or set master_key_file in \
patchbay.toml / PATCHBAY_MASTER_KEY_FILE. For a local trial, `patchbay serve --dev` creates one.";

/// Writes `contents` to a new file readable only by its owner.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(contents.as_bytes())
}

/// Dev mode: creates the data directory and the key files it needs.
fn prepare_dev(cfg: &Config) -> AnyResult<Option<String>> {
    std::fs::create_dir_all(&cfg.data_dir)?;
    let mut new_admin = None;
    if std::env::var("PATCHBAY_MASTER_KEY").is_err() {
        if let Some(p) = &cfg.master_key_file {
            if !p.exists() {
                write_private(p, &MasterKey::generate_base64())?;
            }
        }
    }
    if std::env::var("PATCHBAY_ADMIN_KEY").is_err() {
        if let Some(p) = &cfg.admin_key_file {
            if !p.exists() {
                let key = format!("pbadmin_{}", patchbay_engine::auth::random_token());
                write_private(p, &key)?;
                new_admin = Some(key);
            }
        }
    }
    Ok(new_admin)
}

fn master_key(cfg: &Config) -> AnyResult<MasterKey> {
    if let Ok(text) = std::env::var("PATCHBAY_MASTER_KEY") {
        return Ok(MasterKey::from_base64(&text)?);
    }
    match &cfg.master_key_file {
        Some(p) => Ok(MasterKey::from_file(p)?),
        None => Err(NO_MASTER_KEY.into()),
    }
}

fn admin_key(cfg: &Config) -> AnyResult<Option<Secret>> {
    if let Ok(text) = std::env::var("PATCHBAY_ADMIN_KEY") {
        if text.trim().len() < 16 {
            return Err("PATCHBAY_ADMIN_KEY must be at least 16 characters".into());
        }
        return Ok(Some(Secret::new(text.trim())));
    }
    match &cfg.admin_key_file {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read admin key file {}: {e}", p.display()))?;
            if text.trim().len() < 16 {
                return Err(format!(
                    "the admin key in {} must be at least 16 characters",
                    p.display()
                )
                .into());
            }
            Ok(Some(Secret::new(text.trim())))
        }
        None => Ok(None),
    }
}

pub async fn open_store(cfg: &Config) -> AnyResult<Store> {
    if cfg.database_url.is_sqlite() {
        std::fs::create_dir_all(&cfg.data_dir).ok();
    }
    let store = Store::connect(cfg.database_url.expose())
        .await
        .map_err(|e| format!("cannot open database {}: {e}", cfg.database_url))?;
    Ok(store)
}

/// The outbound HTTP client, the provider catalog and the connector registry built on them.
pub fn connectors(
    cfg: &Config,
) -> AnyResult<(
    patchbay_connectors::HttpClient,
    patchbay_connectors::providers::Catalog,
    patchbay_core::Registry,
)> {
    let policy = patchbay_connectors::NetworkPolicy::parse(&cfg.allow_private_networks)?;
    let http =
        patchbay_connectors::HttpClient::new(policy, Duration::from_secs(cfg.http_timeout_seconds));
    let catalog =
        patchbay_connectors::providers::Catalog::load_with_file(cfg.providers_file.as_deref())?;
    let registry = patchbay_connectors::builtin(http.clone(), &catalog);
    Ok((http, catalog, registry))
}

/// Opens store and vault and builds the engine.
pub async fn engine(cfg: &Config) -> AnyResult<Engine> {
    let master = master_key(cfg)?;
    let admin = admin_key(cfg)?;
    let store = open_store(cfg).await?;
    let vault = Vault::load(store.clone(), master).await.map_err(|e| {
        format!("cannot load the keyring (is this the master key the data was created with?): {e}")
    })?;
    let (http, catalog, registry) = connectors(cfg)?;
    let options = patchbay_engine::EngineOptions {
        admin_key: admin,
        catalog,
        http,
        public_url: cfg.public_url.clone(),
        connect_ttl: patchbay_engine::DEFAULT_CONNECT_TTL,
        job_lease: Duration::from_secs(cfg.job_lease_seconds),
        provider_concurrency: cfg.provider_concurrency,
    };
    Ok(Engine::new(store, vault, registry, options))
}

pub async fn serve(mut cfg: Config, dev: bool, no_worker: bool) -> AnyResult {
    let new_admin = if dev { prepare_dev(&cfg)? } else { None };
    // Dev mode serves local stand-ins of the partner APIs, so connections can be tested and
    // enabled with no partner account; they live on loopback, which dev mode therefore allows.
    let demo = if dev {
        Some(start_demo_partners().await?)
    } else {
        None
    };
    // The stand-ins' addresses go into the provider catalog unless the operator brought one.
    if let (Some(demo), None) = (&demo, &cfg.providers_file) {
        let path = cfg.data_dir.join("dev-providers.yaml");
        std::fs::write(&path, demo.providers_yaml())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        cfg.providers_file = Some(path);
    }
    if dev && cfg.allow_private_networks == "false" {
        cfg.allow_private_networks = "127.0.0.0/8,::1/128".into();
    }
    let engine = engine(&cfg).await?;
    let drifted = engine.connections().scan_config_drift().await?;
    if drifted > 0 {
        tracing::warn!(
            connections = drifted,
            "connections changed health after the config drift check"
        );
    }
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let refresher = engine
        .vault()
        .spawn_refresher(Duration::from_secs(cfg.keyring_refresh_seconds), cancel_rx);
    let listener = tokio::net::TcpListener::bind(cfg.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.bind))?;
    let addr = listener.local_addr()?;
    if dev {
        print_dev_banner(&cfg, addr, new_admin.as_deref());
        if let Some(demo) = &demo {
            // Slack's Events API deliveries come here, as they would to a public URL.
            demo.slack
                .set_event_url(Some(&format!("http://{addr}/v1/webhooks/slack")));
            println!("{}", demo.describe());
        }
    }
    let mut background = Vec::new();
    if !no_worker {
        background.extend(start_background(
            &engine,
            &cfg,
            "serve",
            cancel_rx_for(&cancel_tx),
        ));
    }
    tracing::info!(%addr, backend = ?engine.store().kind(), "patchbay listening");
    println!("patchbay listening on http://{addr}");
    let app = patchbay_server::router(
        engine.clone(),
        &patchbay_server::ServerOptions {
            body_limit: cfg.body_limit_bytes,
        },
    );
    patchbay_server::serve(listener, app, shutdown_signal()).await?;
    let _ = cancel_tx.send(true);
    let _ = refresher.await;
    // Workers finish the job in hand; leases cover anything cut short.
    for task in background {
        let _ = task.await;
    }
    engine.store().close().await;
    tracing::info!("patchbay stopped");
    Ok(())
}

/// Local partner APIs for dev mode.
struct DemoPartners {
    printing: patchbay_emulators::PrintingEmulator,
    venue: patchbay_emulators::VenueEmulator,
    /// Google's OAuth endpoints and the Gmail API, with a seeded mailbox.
    google: patchbay_emulators::OAuthEmulator,
    gmail: patchbay_emulators::GmailEmulator,
    /// Google Calendar, with seeded calendars around this week, behind the same OAuth.
    calendar: patchbay_emulators::GcalEmulator,
    /// Telegram's Bot API with a demo bot; updates are pushed with its dev route.
    telegram: patchbay_emulators::TelegramEmulator,
    /// A Slack workspace with its OAuth v2 app; events are posted with its dev route.
    slack: patchbay_emulators::SlackEmulator,
    /// An OpenAI-compatible LLM API, to register as a custom LLM provider.
    openai: patchbay_emulators::OpenAiEmulator,
}

impl DemoPartners {
    fn describe(&self) -> String {
        let p = self.printing.config();
        let v = self.venue.config();
        format!(
            "    Demo partner APIs (local stand-ins, for trying connections):\n\
             \x20     printing_partner  api_base_url {}  shop_id {}  api_key {}\n\
             \x20     venue_ops         api_base_url {}  venue_id {}  api_token {}\n",
            self.printing.base_url,
            p.shop_id,
            p.api_key,
            self.venue.base_url,
            v.venue_id,
            v.api_token
        ) + &format!(
            "\x20     google-mail       a Gmail mailbox ({email}) behind Google OAuth, both local;\n\
             \x20     google-calendar   its calendars, behind the same Google OAuth app\n\
             \x20                       OAuth app: client_id {id}  client_secret {secret}\n",
            email = self.gmail.config().email,
            id = self.google.config().client_id,
            secret = self.google.config().client_secret,
        ) + &format!(
            "\x20     telegram          bot_token {token}\n\
             \x20                       push an update: POST {base}/_emulator/bot{token}/push\n",
            token = patchbay_emulators::telegram::DEMO_TOKEN,
            base = self.telegram.base_url,
        ) + &format!(
            "\x20     slack             a workspace behind Slack OAuth v2 (local)\n\
             \x20                       OAuth app: client_id {id}  client_secret {secret}\n\
             \x20                       webhook_secret (signing secret) {signing}\n\
             \x20                       post as a user: POST {base}/_emulator/say\n",
            id = patchbay_emulators::slack::CLIENT_ID,
            secret = patchbay_emulators::slack::CLIENT_SECRET,
            signing = patchbay_emulators::slack::SIGNING_SECRET,
            base = self.slack.base_url,
        ) + &format!(
            "\x20     LLM provider      an OpenAI-compatible API: base_url {url}  api_key {key}\n\
             \x20                       register: PUT /v1/admin/llm-providers/local-echo (admin key)\n",
            url = self.openai.api_url(),
            key = self.openai.config().api_key,
        )
    }

    /// The catalog entries that send Gmail's and Calendar's OAuth and API calls to the local
    /// stand-ins.
    fn providers_yaml(&self) -> String {
        let calendar = format!(
            "google-calendar:\n  authorization_url: '{}'\n  token_url: '{}'\n  revocation_url: '{}'\n  \
             userinfo_url: '{}'\n  api_base_url: '{}'\n",
            self.google.authorize_url(),
            self.google.token_url(),
            self.google.revoke_url(),
            self.google.userinfo_url(),
            self.calendar.base_url,
        );
        let telegram = format!("telegram:\n  api_base_url: '{}'\n", self.telegram.base_url);
        let slack = format!(
            "slack:\n  authorization_url: '{}'\n  token_url: '{}'\n  revocation_url: '{}'\n  \
             api_base_url: '{}'\n",
            self.slack.authorize_url(),
            self.slack.token_url(),
            self.slack.revoke_url(),
            self.slack.api_url(),
        );
        calendar
            + &telegram
            + &slack
            + &format!(
            "google-mail:\n  authorization_url: '{}'\n  token_url: '{}'\n  revocation_url: '{}'\n  \
             userinfo_url: '{}'\n  api_base_url: '{}'\n  jwks_url: '{}'\n",
            self.google.authorize_url(),
            self.google.token_url(),
            self.google.revoke_url(),
            self.google.userinfo_url(),
            self.gmail.base_url,
            self.gmail.jwks_url(),
        )
    }
}

/// Fixed ports keep the README's walkthrough copy-pastable; any free port if they are taken.
const DEMO_PRINTING_PORT: u16 = 8181;
const DEMO_VENUE_PORT: u16 = 8182;
const DEMO_GOOGLE_PORT: u16 = 8183;
const DEMO_GMAIL_PORT: u16 = 8184;
const DEMO_CALENDAR_PORT: u16 = 8185;
const DEMO_TELEGRAM_PORT: u16 = 8186;
const DEMO_SLACK_PORT: u16 = 8187;
const DEMO_OPENAI_PORT: u16 = 8188;

async fn start_demo_partners() -> AnyResult<DemoPartners> {
    use patchbay_emulators::oauth2::{self, ClientAuth};
    use patchbay_emulators::{
        gcal, gmail, printing_partner, venue_ops, GcalConfig, GmailConfig, OAuthConfig,
        PrintingConfig, VenueConfig,
    };
    let at = |port| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let printing = match printing_partner::spawn(PrintingConfig {
        bind: at(DEMO_PRINTING_PORT),
        ..Default::default()
    })
    .await
    {
        Ok(p) => p,
        Err(_) => printing_partner::spawn(PrintingConfig::default()).await?,
    };
    let venue = match venue_ops::spawn(VenueConfig {
        bind: at(DEMO_VENUE_PORT),
        ..Default::default()
    })
    .await
    {
        Ok(v) => v,
        Err(_) => venue_ops::spawn(VenueConfig::default()).await?,
    };
    let google_config = |bind| OAuthConfig {
        client_id: "patchbay-dev-google-client".into(),
        client_secret: "patchbay-dev-google-secret".into(),
        scopes_supported: Vec::new(),
        client_auth: ClientAuth::Body,
        require_pkce: true,
        userinfo: serde_json::json!({"sub": "100000000000000000001", "email": "ada@example.com",
            "email_verified": true, "name": "Ada Lovelace"}),
        bind,
        ..Default::default()
    };
    let google = match oauth2::spawn(google_config(at(DEMO_GOOGLE_PORT))).await {
        Ok(g) => g,
        Err(_) => oauth2::spawn(google_config(at(0))).await?,
    };
    let gmail_config = |bind| GmailConfig {
        seed_demo: true,
        bind,
        ..Default::default()
    };
    let gmail = match gmail::spawn(gmail_config(at(DEMO_GMAIL_PORT))).await {
        Ok(g) => g,
        Err(_) => gmail::spawn(gmail_config(at(0))).await?,
    };
    gmail.accept_oauth_tokens(&google);
    let calendar_config = |bind| GcalConfig {
        seed_demo: true,
        bind,
        ..Default::default()
    };
    let calendar = match gcal::spawn(calendar_config(at(DEMO_CALENDAR_PORT))).await {
        Ok(c) => c,
        Err(_) => gcal::spawn(calendar_config(at(0))).await?,
    };
    calendar.accept_oauth_tokens(&google);
    let telegram_config = |bind| patchbay_emulators::TelegramConfig {
        bind,
        ..Default::default()
    };
    let telegram =
        match patchbay_emulators::telegram::spawn(telegram_config(at(DEMO_TELEGRAM_PORT))).await {
            Ok(t) => t,
            Err(_) => patchbay_emulators::telegram::spawn(telegram_config(at(0))).await?,
        };
    let slack_config = |bind| patchbay_emulators::SlackConfig {
        bind,
        ..Default::default()
    };
    let slack = match patchbay_emulators::slack::spawn(slack_config(at(DEMO_SLACK_PORT))).await {
        Ok(s) => s,
        Err(_) => patchbay_emulators::slack::spawn(slack_config(at(0))).await?,
    };
    let openai_config = |bind| patchbay_emulators::OpenAiConfig {
        bind,
        ..Default::default()
    };
    let openai =
        match patchbay_emulators::openai_compat::spawn(openai_config(at(DEMO_OPENAI_PORT))).await {
            Ok(o) => o,
            Err(_) => patchbay_emulators::openai_compat::spawn(openai_config(at(0))).await?,
        };
    Ok(DemoPartners {
        slack,
        openai,
        telegram,
        calendar,
        printing,
        venue,
        google,
        gmail,
    })
}

fn print_dev_banner(cfg: &Config, addr: std::net::SocketAddr, new_admin: Option<&str>) {
    let admin_file = cfg
        .admin_key_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let admin = match (new_admin, std::env::var("PATCHBAY_ADMIN_KEY").is_ok()) {
        (Some(k), _) => k.to_string(),
        (None, true) => "(from PATCHBAY_ADMIN_KEY)".to_string(),
        (None, false) => std::fs::read_to_string(&admin_file)
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
    };
    println!(
        "\n==> patchbay is running in DEV MODE. THIS IS NOT A PRODUCTION SETUP.\n\
         \x20   The master key and the admin key are plain files in {dir}; anyone who can read\n\
         \x20   them can read every stored secret. Use PATCHBAY_MASTER_KEY and PATCHBAY_ADMIN_KEY\n\
         \x20   from a secret store in production.\n\n\
         \x20   Admin key: {admin}\n\
         \x20   API:       http://{addr}\n\
         \x20   Docs:      http://{addr}/docs\n",
        dir = cfg.data_dir.display(),
    );
}

fn cancel_rx_for(tx: &tokio::sync::watch::Sender<bool>) -> tokio::sync::watch::Receiver<bool> {
    tx.subscribe()
}

/// Workers and the scheduler, until `cancel`.
pub fn start_background(
    engine: &Engine,
    cfg: &Config,
    role: &str,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let name = format!("{role}-{}-{}", hostname(), std::process::id());
    let options = patchbay_engine::sync::jobs::WorkerOptions {
        concurrency: cfg.worker_concurrency,
        poll_interval: Duration::from_millis(500),
    };
    let mut tasks = engine.syncs().spawn_workers(&name, options, cancel.clone());
    tasks.push(engine.webhooks().spawn_webhook_processor(cancel.clone()));
    tasks.push(engine.bindings().spawn_flusher(cancel.clone()));
    tasks.push(engine.events().spawn_dispatcher(cancel.clone()));
    tasks.push(engine.watches().spawn_renewer(
        Duration::from_secs(cfg.scheduler_interval_seconds),
        cancel.clone(),
    ));
    tasks.push(
        engine
            .syncs()
            .spawn_scheduler(Duration::from_secs(cfg.scheduler_interval_seconds), cancel),
    );
    tracing::info!(worker = %name, concurrency = cfg.worker_concurrency, "workers started");
    tasks
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

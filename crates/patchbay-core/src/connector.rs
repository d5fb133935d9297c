//! The connector SDK: what a connector declares (`ConnectorSpec`) and what it can do
//! (`Connector`). A method a connector does not support is absent from its spec's
//! capabilities; callers check the spec first and the default method body says `Unsupported`.

use crate::secret::SecretMap;
use crate::validation::{self, FieldError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
    Bidirectional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Pull,
    Push,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    Oauth2,
    Oauth2ClientCredentials,
    ApiKey,
    Basic,
    BotToken,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Sync,
    Webhooks,
    Actions,
    Proxy,
    Signals,
    Data,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Sync => "sync",
            Capability::Webhooks => "webhooks",
            Capability::Actions => "actions",
            Capability::Proxy => "proxy",
            Capability::Signals => "signals",
            Capability::Data => "data",
        }
    }
}

/// Inbound webhook verification schemes a connector can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookScheme {
    /// `X-Patchbay-Integration-Secret` compared with a connection secret.
    SharedSecretHeader,
    GithubHmacSha256,
    SlackV0,
    TelegramSecretToken,
    DiscordEd25519,
    StandardWebhooks,
    /// Google push channels (Calendar): `X-Goog-Channel-Token` compared with a connection secret.
    GoogleChannelToken,
    /// Google Cloud Pub/Sub push: a Google-signed OIDC bearer token, checked against the
    /// issuer's JWKS, audience, issuer and expiry. No shared secret.
    PubsubOidc,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntitySpec {
    pub key: String,
    pub description: String,
    /// Whether the connector can sync only what changed since a cursor.
    pub incremental: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActionSpec {
    pub key: String,
    pub description: String,
    /// JSON Schema of the action input.
    #[schema(value_type = Object)]
    pub input_schema: Value,
}

/// Shapes a live data endpoint can answer with (dashboard widgets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataShape {
    Stat,
    Gauge,
    List,
    Progress,
    Alert,
    Chart,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DataEndpointSpec {
    pub key: String,
    pub description: String,
    pub shape: DataShape,
    pub ttl_seconds: u32,
}

/// Everything a connector declares about itself; served by `GET /v1/connectors`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectorSpec {
    pub key: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub direction: Direction,
    pub mode: Mode,
    pub auth: AuthKind,
    pub capabilities: Vec<Capability>,
    pub entities: Vec<EntitySpec>,
    pub actions: Vec<ActionSpec>,
    pub data_endpoints: Vec<DataEndpointSpec>,
    /// JSON Schema (an object schema) of the non-secret configuration.
    #[schema(value_type = Object)]
    pub config_schema: Value,
    /// JSON Schema of the secrets; every property is stored encrypted.
    #[schema(value_type = Object)]
    pub secrets_schema: Value,
    /// Config field whose value identifies the provider account (uniqueness per account).
    pub account_field: Option<String>,
    pub webhook_scheme: Option<WebhookScheme>,
    /// Which secret field verifies inbound webhooks.
    pub webhook_secret_field: Option<String>,
}

impl ConnectorSpec {
    pub fn supports(&self, cap: Capability) -> bool {
        self.capabilities.contains(&cap)
    }

    pub fn action(&self, key: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.key == key)
    }

    pub fn entity(&self, key: &str) -> Option<&EntitySpec> {
        self.entities.iter().find(|e| e.key == key)
    }

    pub fn secret_fields(&self) -> Vec<String> {
        self.secrets_schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn action_keys(&self) -> Vec<String> {
        self.actions.iter().map(|a| a.key.clone()).collect()
    }
}

/// What validation sees: non-secret config and the names of secrets present (never values,
/// except through `secrets` for connectors whose rules look at them, such as a length check).
pub struct ValidationInput<'a> {
    pub config: &'a Value,
    pub secrets: &'a SecretMap,
    pub scope: &'a Value,
}

/// What a connector method gets about the connection it works for.
pub struct ConnectorContext {
    pub connection_id: String,
    pub config: Value,
    pub secrets: SecretMap,
}

impl ConnectorContext {
    pub fn config_str(&self, field: &str) -> Option<&str> {
        self.config.get(field).and_then(Value::as_str)
    }

    pub fn secret(&self, field: &str) -> Result<&crate::Secret, ConnectorError> {
        self.secrets
            .get(field)
            .ok_or_else(|| ConnectorError::Config(format!("secret '{field}' is not set")))
    }
}

/// One record from a provider, as the record store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub entity: String,
    pub id: String,
    pub data: Value,
}

/// How a derived record meets the one already stored under its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// The latest write replaces it.
    Replace,
    /// Kept only when its `rank` field is at least the stored one's, so later revisions win
    /// whatever order their sources arrive in.
    Newest,
    /// One contribution per source: `count` counts distinct sources, `first_seen` and
    /// `last_seen` span their `at` (UTC RFC 3339), and the other fields come from the latest
    /// source that has them.
    Tally,
}

/// A push subscription held at the provider (Gmail `users.watch`, a Calendar channel). It
/// lapses at `expires_at_ms` unless renewed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    pub expires_at_ms: i64,
    /// What renewing or stopping it needs (channel and resource ids, the topic).
    pub state: Value,
}

/// A record derived from a synced one (a message's people, invites and action items), merged
/// into its own entity in the same commit as the page it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedRecord {
    pub entity: String,
    pub id: String,
    /// The synced record it was read from.
    pub source_id: String,
    pub merge: Merge,
    pub data: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    Full,
    Incremental,
}

/// One page request: which entity, where to resume, and for incremental runs the cursor left
/// by the last completed run.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub entity: String,
    pub mode: SyncMode,
    pub page_cursor: Option<String>,
    pub since: Option<String>,
}

/// One page of results. `next_page_cursor: None` ends the run; `checkpoint` is what the next
/// incremental run should start from.
#[derive(Debug, Clone, Default)]
pub struct SyncPage {
    pub records: Vec<Record>,
    pub deleted_ids: Vec<String>,
    pub next_page_cursor: Option<String>,
    pub checkpoint: Option<String>,
    /// Something the run should say about itself (a stored cursor had expired and the
    /// connector listed everything instead), kept on the run.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestOutcome {
    pub ok: bool,
    pub message: String,
    /// Account the credentials belong to, when the provider says.
    pub account: Option<String>,
}

/// An inbound webhook as received: raw bytes, so signatures are checked over what was sent.
pub struct WebhookRequest {
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl WebhookRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a verified webhook means for the record store.
#[derive(Debug, Clone, Default)]
pub struct WebhookOutcome {
    pub delivery_id: Option<String>,
    pub event_type: String,
    pub upserts: Vec<Record>,
    /// (entity, id) pairs the provider reports deleted.
    pub deletions: Vec<(String, String)>,
    /// Entities that should be re-synced incrementally.
    pub resync: Vec<String>,
    /// Events the delivery means for the application (`message.received`, …), emitted after
    /// the record changes are committed, in this order.
    pub events: Vec<EmittedEvent>,
    /// Files the delivery carried (a chat message's photo or voice note), stored before the
    /// records that reference them by id.
    pub attachments: Vec<Attachment>,
    /// Chat messages the delivery carried, for channel bindings to route to their target.
    pub messages: Vec<InboundMessage>,
}

/// A message from a person in a channel (a Telegram chat, a Slack channel or thread, a
/// GitHub issue), as the engine routes it: the channel names the binding scope.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// `telegram`, `slack` or `github`.
    pub channel_type: String,
    /// The chat id, the Slack channel id, or the repository `owner/name`.
    pub channel_id: String,
    /// The Slack thread `ts`, or the GitHub issue or pull request number.
    pub thread: Option<String>,
    /// The provider's id of the message, unique within the connection (redeliveries repeat it).
    pub message_id: String,
    pub text: String,
    /// Who wrote it, as the provider names them.
    pub author: serde_json::Value,
    /// What the message carried: each with its `id`, `kind`, `content_type` and, when stored,
    /// its `url` (`/v1/connections/{id}/attachments/{attachment_id}`).
    pub attachments: Vec<serde_json::Value>,
}

/// A file received with a webhook, kept by patchbay and served at
/// `/v1/connections/{connection_id}/attachments/{id}`.
#[derive(Clone, PartialEq)]
pub struct Attachment {
    /// Stable per connection (the provider's unique file id), so a redelivery stores it once.
    pub id: String,
    pub content_type: String,
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("id", &self.id)
            .field("content_type", &self.content_type)
            .field("filename", &self.filename)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// An event a connector derives from an inbound delivery. The engine adds the connection id
/// and emits it to subscriptions and the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct EmittedEvent {
    /// Dotted, lower case: `message.received`, `command.received`, `channel.created`.
    pub event_type: String,
    pub payload: Value,
}

/// What kind of thing a signal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Task,
    Event,
    Message,
    Notification,
}

/// One item needing the owner's attention, normalized across providers: a task due today, a
/// pull request waiting for review, an unread message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Signal {
    /// The provider's id of the item (unique within its source).
    pub id: String,
    /// The connector key; the engine adds the connection id.
    pub source: String,
    pub kind: SignalKind,
    pub title: String,
    /// RFC 3339 date (`2026-11-22`) or date-time, when the item is due.
    pub due: Option<String>,
    /// Where a person opens the item.
    pub url: Option<String>,
    /// 1 (lowest) to 4 (highest), when the provider ranks items.
    pub priority: Option<u8>,
    /// The provider's record, as received.
    #[schema(value_type = Object)]
    pub record: Value,
}

/// Where the authenticated proxy sends a connection's calls, and the headers that carry its
/// credential.
pub struct ProxyTarget {
    /// The provider API's base URL; a caller's path is appended and may not escape it.
    pub base_url: String,
    /// Credential headers (for example `Authorization: Bearer …`); values stay secret.
    pub headers: Vec<(String, crate::Secret)>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DataPayload {
    pub shape: DataShape,
    #[schema(value_type = Object)]
    pub data: Value,
}

/// Errors a connector reports, mapped to HTTP and health by the layers above.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{connector} does not support {what}")]
    Unsupported { connector: String, what: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid input: {0:?}")]
    InvalidInput(Vec<FieldError>),
    #[error("unknown {kind} '{key}'")]
    Unknown { kind: &'static str, key: String },
    #[error("the provider rejected the credentials ({status}): {message}")]
    Unauthorized { status: u16, message: String },
    #[error("the provider is rate limiting; retry after {retry_after_secs:?} s")]
    RateLimited { retry_after_secs: Option<u64> },
    #[error("not found at the provider: {0}")]
    NotFound(String),
    #[error("the provider answered {status}: {message}")]
    Provider { status: u16, message: String },
    #[error("the provider's answer could not be read: {0}")]
    BadResponse(String),
    #[error("could not reach the provider: {0}")]
    Network(String),
    #[error("webhook verification failed: {0}")]
    Verification(String),
    #[error("webhook payload rejected: {0}")]
    BadPayload(String),
}

impl ConnectorError {
    pub fn unsupported(spec: &ConnectorSpec, what: &str) -> Self {
        ConnectorError::Unsupported {
            connector: spec.key.clone(),
            what: what.to_string(),
        }
    }

    /// Whether trying again later may succeed (network trouble, 429, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            ConnectorError::Network(_) | ConnectorError::RateLimited { .. } => true,
            ConnectorError::Provider { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A provider integration. Implementations hold their own HTTP client; everything about a
/// particular connection arrives in the [`ConnectorContext`].
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    fn spec(&self) -> &ConnectorSpec;

    /// Rules beyond the JSON Schemas (cross-field checks, formats). The schema checks run first
    /// in [`validate_connection`]; this adds to them.
    fn validate_rules(&self, _input: &ValidationInput<'_>) -> Vec<FieldError> {
        Vec::new()
    }

    /// Checks the credentials against the provider with a cheap authenticated call.
    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError>;

    /// Fetches one page of `req.entity`.
    async fn sync(
        &self,
        _ctx: &ConnectorContext,
        _req: SyncRequest,
    ) -> Result<SyncPage, ConnectorError> {
        Err(ConnectorError::unsupported(self.spec(), "sync"))
    }

    async fn fetch_entity(
        &self,
        _ctx: &ConnectorContext,
        _entity: &str,
        _id: &str,
    ) -> Result<Record, ConnectorError> {
        Err(ConnectorError::unsupported(self.spec(), "fetch_entity"))
    }

    /// Runs `action`. The engine has already checked `input` against the action's declared
    /// input schema (once, for every connector), so a connector checks only what the schema
    /// cannot say.
    async fn run_action(
        &self,
        _ctx: &ConnectorContext,
        _action: &str,
        _input: Value,
    ) -> Result<Value, ConnectorError> {
        Err(ConnectorError::unsupported(self.spec(), "actions"))
    }

    /// Verifies an inbound webhook over its raw bytes and maps it to record changes and events.
    /// Runs in a webhook worker after the delivery is durable, so it may call the provider
    /// (fetch what the payload only points to).
    async fn handle_webhook(
        &self,
        _ctx: &ConnectorContext,
        _req: &WebhookRequest,
    ) -> Result<WebhookOutcome, ConnectorError> {
        Err(ConnectorError::unsupported(self.spec(), "webhooks"))
    }

    async fn fetch_data(
        &self,
        _ctx: &ConnectorContext,
        _endpoint: &str,
    ) -> Result<DataPayload, ConnectorError> {
        Err(ConnectorError::unsupported(self.spec(), "data endpoints"))
    }

    /// The live data endpoints of a connection: the spec's, unless a connector lets each
    /// connection configure its own.
    fn data_endpoints_for(&self, _config: &Value) -> Vec<DataEndpointSpec> {
        self.spec().data_endpoints.clone()
    }

    /// The owner's open items at this source (tasks due, reviews requested, …).
    async fn signals(&self, _ctx: &ConnectorContext) -> Result<Vec<Signal>, ConnectorError> {
        Err(ConnectorError::unsupported(self.spec(), "signals"))
    }

    /// Records derived from a page of `entity` (mail context), committed with the page.
    fn derive(
        &self,
        _ctx: &ConnectorContext,
        _entity: &str,
        _records: &[Record],
    ) -> Vec<DerivedRecord> {
        Vec::new()
    }

    /// Whether a connection with this config keeps a push subscription at the provider.
    fn wants_watch(&self, _config: &Value) -> bool {
        false
    }

    /// Starts or renews the push subscription that sends changes to `callback_url`;
    /// `previous` is the one being renewed.
    async fn watch(
        &self,
        _ctx: &ConnectorContext,
        _callback_url: &str,
        _previous: Option<&Watch>,
    ) -> Result<Watch, ConnectorError> {
        Err(ConnectorError::unsupported(
            self.spec(),
            "push subscriptions",
        ))
    }

    /// Stops a push subscription (the connection is going away).
    async fn unwatch(&self, _ctx: &ConnectorContext, _watch: &Watch) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Base URL and credential headers for the authenticated proxy.
    fn proxy_target(&self, _ctx: &ConnectorContext) -> Result<ProxyTarget, ConnectorError> {
        Err(ConnectorError::unsupported(self.spec(), "proxy"))
    }

    /// The verification scheme of a connection's inbound webhooks: the spec's, unless a
    /// connector lets each connection choose.
    fn webhook_scheme_for(&self, _config: &Value) -> Option<WebhookScheme> {
        self.spec().webhook_scheme
    }
}

/// Schema checks for config and secrets, then the connector's own rules. Field names are
/// prefixed `config.` or `secrets.` so a form can place each error.
pub fn validate_connection(
    connector: &dyn Connector,
    input: &ValidationInput<'_>,
) -> Vec<FieldError> {
    let spec = connector.spec();
    let mut errors = validation::check_schema(&spec.config_schema, input.config, "config");
    let secret_presence: serde_json::Map<String, Value> = input
        .secrets
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.expose().to_string())))
        .collect();
    let mut secret_errors = validation::check_schema(
        &spec.secrets_schema,
        &Value::Object(secret_presence),
        "secrets",
    );
    // Schema messages may quote the offending value; for secrets keep only the rule.
    for e in &mut secret_errors {
        e.message = validation::scrub_secret_message(&e.message, input.secrets);
    }
    errors.extend(secret_errors);
    errors.extend(connector.validate_rules(input));
    errors
}

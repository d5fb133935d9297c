//! Gmail: connected with Google OAuth 2.0 (the engine keeps a fresh token in the
//! `access_token` secret). Syncs messages (incrementally through the mailbox history),
//! threads, labels and drafts; unread inbox mail addressed to the owner becomes signals;
//! actions send, reply, draft, label, search and fetch attachments. MIME is parsed with
//! mail-parser and built with mail-builder. With a `push_topic` the connection keeps a
//! `users.watch` alive and Pub/Sub pushes trigger incremental syncs. Calls go to the catalog
//! entry's `api_base_url` unless the connection's `base_url` overrides it.

mod actions;
mod client;
mod compose;
mod context;
pub mod message;
mod push;
mod spec;
mod sync;

pub use client::DEFAULT_API_BASE;

/// The address of `Name <address>` or of a bare address, as actions read recipients.
pub fn compose_address(raw: &str) -> Option<String> {
    compose::parse_mailbox(raw).map(|m| m.address.to_ascii_lowercase())
}
pub use spec::KEY;

use crate::common::unknown_entity;
use crate::http::HttpClient;
use crate::providers::Provider;
use async_trait::async_trait;
use client::{api_base, Api};
use patchbay_core::{
    Connector, ConnectorContext, ConnectorError, ConnectorSpec, DerivedRecord, FieldError,
    ProxyTarget, Record, Signal, SignalKind, SyncPage, SyncRequest, TestOutcome, ValidationInput,
    Watch, WebhookOutcome, WebhookRequest,
};
use serde_json::Value;

/// Unread messages turned into signals at most.
const MAX_SIGNALS: u32 = 50;

pub struct Gmail {
    http: HttpClient,
    provider: Option<Provider>,
    spec: ConnectorSpec,
}

impl Gmail {
    /// `provider` is the catalog entry (with any operator overrides).
    pub fn new(http: HttpClient, provider: Option<Provider>) -> Self {
        Gmail {
            http,
            provider,
            spec: spec::spec(),
        }
    }

    fn api<'a>(&'a self, ctx: &'a ConnectorContext) -> Result<Api<'a>, ConnectorError> {
        client::api(&self.http, ctx, self.provider.as_ref())
    }
}

fn options(ctx: &ConnectorContext) -> sync::Options {
    sync::Options {
        query: ctx
            .config_str("query")
            .filter(|q| !q.trim().is_empty())
            .map(str::to_string),
        label_ids: ctx.config["label_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        format: match ctx.config_str("format") {
            Some("metadata") => "metadata",
            _ => "full",
        },
        context: ctx.config["mail_context"].as_bool().unwrap_or(true),
        concurrency: ctx.config["fetch_concurrency"]
            .as_u64()
            .map_or(8, |n| n.clamp(1, 20) as usize),
    }
}

#[async_trait]
impl Connector for Gmail {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    fn validate_rules(&self, input: &ValidationInput<'_>) -> Vec<FieldError> {
        spec::validate_rules(input)
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError> {
        let api = self.api(ctx)?;
        let profile = api.get(&["profile"], &[]).await?;
        let address = profile["emailAddress"].as_str().map(str::to_string);
        let account = api.account(ctx, self.provider.as_ref(), address).await?;
        Ok(TestOutcome {
            ok: true,
            message: format!(
                "the token reads the mailbox of {}",
                profile["emailAddress"].as_str().unwrap_or("the account")
            ),
            account,
        })
    }

    async fn sync(
        &self,
        ctx: &ConnectorContext,
        req: SyncRequest,
    ) -> Result<SyncPage, ConnectorError> {
        let api = self.api(ctx)?;
        match req.entity.as_str() {
            "messages" => sync::messages(&api, &req, &options(ctx)).await,
            "threads" => sync::threads(&api, &req, ctx.config_str("query")).await,
            "drafts" => sync::listed(&api, "drafts", req.page_cursor.as_deref(), None).await,
            "labels" => sync::labels(&api).await,
            other => Err(unknown_entity(other)),
        }
    }

    async fn fetch_entity(
        &self,
        ctx: &ConnectorContext,
        entity: &str,
        id: &str,
    ) -> Result<Record, ConnectorError> {
        let api = self.api(ctx)?;
        let (entity, data) = match entity {
            "messages" | "message" => {
                let msg = api
                    .get(&["messages", id], &[("format", "full".into())])
                    .await?;
                ("messages", message::record(&msg).0)
            }
            "labels" | "label" => ("labels", api.get(&["labels", id], &[]).await?),
            "threads" | "thread" => (
                "threads",
                api.get(&["threads", id], &[("format", "minimal".into())])
                    .await?,
            ),
            "drafts" | "draft" => ("drafts", api.get(&["drafts", id], &[]).await?),
            other => return Err(unknown_entity(other)),
        };
        Ok(Record {
            entity: entity.into(),
            id: id.into(),
            data,
        })
    }

    async fn run_action(
        &self,
        ctx: &ConnectorContext,
        action: &str,
        input: Value,
    ) -> Result<Value, ConnectorError> {
        let api = self.api(ctx)?;
        match action {
            "search" => actions::search(&api, &input).await,
            "get_thread" => actions::get_thread(&api, &input).await,
            "send_email" => actions::send_email(&api, &input).await,
            "reply_to_thread" => actions::reply_to_thread(&api, &input).await,
            "create_draft" => actions::create_draft(&api, &input).await,
            "update_draft" => actions::update_draft(&api, &input).await,
            "send_draft" => actions::send_draft(&api, &input).await,
            "modify_labels" => actions::modify_labels(&api, &input).await,
            "get_attachment" => actions::get_attachment(&api, &input).await,
            "trash" => actions::trash(&api, &input).await,
            other => Err(ConnectorError::Unknown {
                kind: "action",
                key: other.into(),
            }),
        }
    }

    /// Unread inbox messages that name the owner in To or Cc.
    async fn signals(&self, ctx: &ConnectorContext) -> Result<Vec<Signal>, ConnectorError> {
        let api = self.api(ctx)?;
        let me = api.get(&["profile"], &[]).await?["emailAddress"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let list = api
            .get(
                &["messages"],
                &[
                    ("q", "is:unread in:inbox".into()),
                    ("maxResults", MAX_SIGNALS.to_string()),
                ],
            )
            .await?;
        let mut out = Vec::new();
        for m in list["messages"].as_array().into_iter().flatten() {
            let id = m["id"].as_str().unwrap_or_default();
            let msg = api
                .get(&["messages", id], &[("format", "metadata".into())])
                .await?;
            let (data, _) = message::record(&msg);
            let to_me = ["to", "cc"].iter().any(|f| {
                data[*f]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|a| a["address"] == me.as_str()))
            });
            if !to_me {
                continue;
            }
            let from = data["from"][0]["name"]
                .as_str()
                .or_else(|| data["from"][0]["address"].as_str())
                .unwrap_or("someone");
            let subject = data["subject"].as_str().unwrap_or("(no subject)");
            out.push(Signal {
                id: id.into(),
                source: KEY.into(),
                kind: SignalKind::Message,
                title: format!("{from}: {subject}"),
                due: None,
                url: Some(format!("https://mail.google.com/mail/u/0/#inbox/{id}")),
                priority: None,
                record: data,
            });
        }
        Ok(out)
    }

    /// People, invites and action items of synced messages.
    fn derive(
        &self,
        ctx: &ConnectorContext,
        entity: &str,
        records: &[Record],
    ) -> Vec<DerivedRecord> {
        match entity {
            "messages" if options(ctx).context => context::derive(records),
            _ => Vec::new(),
        }
    }

    fn wants_watch(&self, config: &Value) -> bool {
        push::topic(config).is_some()
    }

    async fn watch(
        &self,
        ctx: &ConnectorContext,
        _callback_url: &str,
        _previous: Option<&Watch>,
    ) -> Result<Watch, ConnectorError> {
        push::watch(&self.api(ctx)?, &ctx.config).await
    }

    async fn unwatch(&self, ctx: &ConnectorContext, _watch: &Watch) -> Result<(), ConnectorError> {
        push::stop(&self.api(ctx)?).await
    }

    /// A Pub/Sub push (already verified by its token): the mailbox changed, so sync what did.
    async fn handle_webhook(
        &self,
        _ctx: &ConnectorContext,
        req: &WebhookRequest,
    ) -> Result<WebhookOutcome, ConnectorError> {
        push::outcome(&req.body)
    }

    fn proxy_target(&self, ctx: &ConnectorContext) -> Result<ProxyTarget, ConnectorError> {
        crate::google::proxy_target(&api_base(ctx, self.provider.as_ref())?, ctx)
    }
}

//! Google Calendar: connected with Google OAuth 2.0 (the engine keeps a fresh token in the
//! `access_token` secret). Syncs the calendar list and events (series with their modified
//! instances, incrementally with each calendar's sync token); with `push` on, keeps an
//! `events.watch` channel per calendar whose notifications trigger incremental syncs. Actions
//! write events (Meet links included), answer invitations, read free/busy and find available
//! slots (`slots.rs`, with recurrence expanded by the rrule crate in `expand.rs`). Today's
//! events are signals; `next_event`, `today` and `week_busy` feed dashboards.

mod actions;
pub mod expand;
mod live;
mod push;
pub mod slots;
mod spec;
mod sync;

pub use actions::slots_answer;
pub use spec::{CHANNEL_TOKEN, KEY};
pub use sync::record_id;

use crate::common::unknown_entity;
use crate::google::Api;
use crate::http::HttpClient;
use crate::providers::Provider;
use async_trait::async_trait;
use chrono_tz::Tz;
use patchbay_core::{
    Connector, ConnectorContext, ConnectorError, ConnectorSpec, DataPayload, FieldError,
    ProxyTarget, Record, Signal, SyncPage, SyncRequest, TestOutcome, ValidationInput, Watch,
    WebhookOutcome, WebhookRequest,
};
use serde_json::Value;

/// Google's API address when neither the connection nor the catalog names one.
pub const DEFAULT_API_BASE: &str = "https://www.googleapis.com";

pub struct GoogleCalendar {
    http: HttpClient,
    provider: Option<Provider>,
    spec: ConnectorSpec,
}

impl GoogleCalendar {
    /// `provider` is the catalog entry (with any operator overrides).
    pub fn new(http: HttpClient, provider: Option<Provider>) -> Self {
        GoogleCalendar {
            http,
            provider,
            spec: spec::spec(),
        }
    }

    fn base(&self, ctx: &ConnectorContext) -> Result<url::Url, ConnectorError> {
        crate::common::provider_api_base(
            ctx,
            self.provider.as_ref(),
            DEFAULT_API_BASE,
            "Google Calendar",
        )
    }

    fn api<'a>(&'a self, ctx: &'a ConnectorContext) -> Result<Api<'a>, ConnectorError> {
        Api::new(&self.http, ctx, self.base(ctx)?, &["calendar", "v3"])
    }
}

/// The account's address (its primary calendar's id) and the owner's zone: the connection's
/// `time_zone`, else the primary calendar's.
async fn owner(api: &Api<'_>, ctx: &ConnectorContext) -> Result<(String, Tz), ConnectorError> {
    let primary = api.get(&["calendars", "primary"], &[]).await?;
    let me = primary["id"].as_str().unwrap_or_default().to_string();
    let zone = ctx
        .config_str("time_zone")
        .or_else(|| primary["timeZone"].as_str())
        .and_then(|z| z.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC);
    Ok((me, zone))
}

fn selected(ctx: &ConnectorContext) -> Option<Vec<String>> {
    let list: Vec<String> = ctx.config["calendar_ids"]
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    (!list.is_empty()).then_some(list)
}

fn window(ctx: &ConnectorContext) -> sync::Window {
    let now = chrono::Utc::now();
    let past = ctx.config["past_days"].as_i64().unwrap_or(30);
    let future = ctx.config["future_days"].as_i64().unwrap_or(365);
    sync::Window {
        time_min: (now - chrono::Duration::days(past)).to_rfc3339(),
        time_max: (now + chrono::Duration::days(future)).to_rfc3339(),
    }
}

#[async_trait]
impl Connector for GoogleCalendar {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    fn validate_rules(&self, input: &ValidationInput<'_>) -> Vec<FieldError> {
        spec::validate_rules(input)
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError> {
        let api = self.api(ctx)?;
        let (me, zone) = owner(&api, ctx).await?;
        let account = api
            .account(ctx, self.provider.as_ref(), Some(me.clone()))
            .await?;
        Ok(TestOutcome {
            ok: true,
            message: format!("the token reads the calendars of {me} ({zone})"),
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
            "calendars" => sync::calendars(&api).await,
            "events" => sync::events(&api, &req, selected(ctx), &window(ctx)).await,
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
        let data = match entity {
            "calendars" | "calendar" => api.get(&["users", "me", "calendarList", id], &[]).await?,
            "events" | "event" => {
                let (calendar, event) = id.split_once(':').unwrap_or(("primary", id));
                let mut data = api
                    .get(&["calendars", calendar, "events", event], &[])
                    .await?;
                data["calendar_id"] = calendar.into();
                data
            }
            other => return Err(unknown_entity(other)),
        };
        Ok(Record {
            entity: if entity.starts_with("calendar") {
                "calendars".into()
            } else {
                "events".into()
            },
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
            "create_event" => actions::create_event(&api, &input).await,
            "update_event" => actions::update_event(&api, &input).await,
            "delete_event" => actions::delete_event(&api, &input).await,
            "quick_add" => actions::quick_add(&api, &input).await,
            "rsvp" => {
                let (me, _) = owner(&api, ctx).await?;
                actions::rsvp(&api, &input, &me).await
            }
            "free_busy" => actions::free_busy(&api, &input).await,
            "available_slots" => {
                let (me, zone) = owner(&api, ctx).await?;
                actions::available_slots(&api, &input, &me, zone).await
            }
            other => Err(ConnectorError::Unknown {
                kind: "action",
                key: other.into(),
            }),
        }
    }

    /// Events of today and the next 24 hours that the owner attends.
    async fn signals(&self, ctx: &ConnectorContext) -> Result<Vec<Signal>, ConnectorError> {
        let api = self.api(ctx)?;
        let (me, zone) = owner(&api, ctx).await?;
        Ok(live::signals(&live::upcoming(&api, zone, &me).await?))
    }

    async fn fetch_data(
        &self,
        ctx: &ConnectorContext,
        endpoint: &str,
    ) -> Result<DataPayload, ConnectorError> {
        let api = self.api(ctx)?;
        let (me, zone) = owner(&api, ctx).await?;
        match endpoint {
            "next_event" => Ok(live::next_event(&live::upcoming(&api, zone, &me).await?)),
            "today" => Ok(live::today(&live::upcoming(&api, zone, &me).await?, zone)),
            "week_busy" => live::week_busy(&api, zone, &me).await,
            other => Err(ConnectorError::Unknown {
                kind: "data endpoint",
                key: other.into(),
            }),
        }
    }

    fn wants_watch(&self, config: &Value) -> bool {
        config["push"].as_bool().unwrap_or(false)
    }

    async fn watch(
        &self,
        ctx: &ConnectorContext,
        callback_url: &str,
        previous: Option<&Watch>,
    ) -> Result<Watch, ConnectorError> {
        let api = self.api(ctx)?;
        let calendars = match selected(ctx) {
            Some(list) => list,
            None => sync::calendar_list(&api)
                .await?
                .iter()
                .filter_map(|c| c["id"].as_str().map(str::to_string))
                .collect(),
        };
        let token = ctx.secret(CHANNEL_TOKEN)?;
        push::watch(&api, &calendars, callback_url, token.expose(), previous).await
    }

    async fn unwatch(&self, ctx: &ConnectorContext, watch: &Watch) -> Result<(), ConnectorError> {
        let api = self.api(ctx)?;
        let channels = watch.state["channels"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        push::stop_all(&api, &channels).await;
        Ok(())
    }

    async fn handle_webhook(
        &self,
        _ctx: &ConnectorContext,
        req: &WebhookRequest,
    ) -> Result<WebhookOutcome, ConnectorError> {
        push::outcome(req)
    }

    fn proxy_target(&self, ctx: &ConnectorContext) -> Result<ProxyTarget, ConnectorError> {
        crate::google::proxy_target(&self.base(ctx)?, ctx)
    }
}

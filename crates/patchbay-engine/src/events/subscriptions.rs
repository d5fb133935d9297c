//! Subscriptions: create, read, change and delete them (the signing secret sealed in the
//! vault, shown once), list their deliveries and retry one.

use super::Events;
use super::OWNER;
use crate::auth::{activity_row, Caller};
use crate::error::{EngineError, Result};
use crate::oauth::apps::workspace_of;
use crate::views::Page;
use base64::Engine as _;
use patchbay_core::{ids, ms_to_rfc3339, now_ms, FieldError, Secret};
use patchbay_store::{CredentialRow, DeliveryRow, SubscriptionRow};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// Where deliveries go: `https://` (or `http://` where the operator allows it), without
    /// user name or password.
    #[schema(
        format = "uri",
        max_length = 2048,
        pattern = r"^[hH][tT][tT][pP][sS]?://[^@/?#\s]+([/?#].*)?$"
    )]
    pub url: String,
    /// Event types to deliver (e.g. `records.changed`, `connection.*`); all when empty.
    #[serde(default)]
    pub event_types: Vec<String>,
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSubscription {
    #[schema(
        format = "uri",
        max_length = 2048,
        pattern = r"^[hH][tT][tT][pP][sS]?://[^@/?#\s]+([/?#].*)?$"
    )]
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// Issue a new signing secret (shown once in the answer).
    #[serde(default)]
    pub rotate_secret: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub consecutive_failures: i64,
    pub circuit_open_until: Option<String>,
    /// Present only when the secret was just created or rotated.
    pub signing_secret: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl std::fmt::Debug for SubscriptionView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionView")
            .field("id", &self.id)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub subscription_id: String,
    pub event_id: String,
    /// pending, succeeded or dead.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_status_code: Option<i64>,
    pub last_latency_ms: Option<i64>,
    /// The start of the subscriber's last answer.
    pub last_response: Option<String>,
    pub last_error: Option<String>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(d: DeliveryRow) -> Self {
        DeliveryView {
            next_attempt_at: (d.status == "pending").then(|| ms_to_rfc3339(d.next_attempt_at)),
            id: d.id,
            subscription_id: d.subscription_id,
            event_id: d.event_id,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_latency_ms: d.last_latency_ms,
            last_response: d.last_response,
            last_error: d.last_error,
        }
    }
}

fn view(s: SubscriptionRow, secret: Option<String>) -> SubscriptionView {
    SubscriptionView {
        id: s.id,
        url: s.url,
        event_types: serde_json::from_str(&s.event_types).unwrap_or_default(),
        description: s.description,
        enabled: s.enabled,
        consecutive_failures: s.consecutive_failures,
        circuit_open_until: s.circuit_open_until.map(ms_to_rfc3339),
        signing_secret: secret,
        created_at: ms_to_rfc3339(s.created_at),
        updated_at: ms_to_rfc3339(s.updated_at),
    }
}

fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn check(url: &str, types: &[String], description: Option<&str>) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = crate::text::check_text("url", url, 2048)
        .into_iter()
        .collect();
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        ""
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    match url::Url::parse(url) {
        // Credentials in a URL would be stored, shown and logged in plaintext.
        Ok(u) if !u.username().is_empty() || u.password().is_some() || authority.contains('@') => {
            errors.push(FieldError::new(
                "url",
                "userinfo",
                "url must not carry a user name or password; verify deliveries with the signing secret",
            ))
        }
        Ok(u) if !authority.is_empty() && u.host().is_some() => {}
        _ => errors.push(FieldError::new(
            "url",
            "format",
            "url must be an absolute http(s) URL",
        )),
    }
    if let Some(d) = description {
        if d.chars().count() > 500 {
            errors.push(FieldError::new(
                "description",
                "length",
                "description must be at most 500 characters",
            ));
        }
        errors.extend(crate::text::check_no_control("description", d));
    }
    if types
        .iter()
        .any(|t| crate::text::check_text("event_types", t, 200).is_some())
    {
        errors.push(FieldError::new(
            "event_types",
            "format",
            "event types are non-empty strings",
        ));
    }
    errors
}

impl Events {
    fn seal_subscription_secret(
        &self,
        ws: &str,
        sub_id: &str,
        prior: Option<&CredentialRow>,
        secret: &str,
    ) -> Result<CredentialRow> {
        let now = now_ms();
        let id = prior.map_or_else(|| ids::new_id(ids::IdKind::Credential), |c| c.id.clone());
        let (ciphertext, key_id) = self.ctx.vault().seal_credential(
            &id,
            (OWNER, sub_id),
            "signing_secret",
            &Secret::new(secret),
        )?;
        Ok(CredentialRow {
            id,
            workspace_id: ws.into(),
            owner_type: OWNER.into(),
            owner_id: sub_id.into(),
            field: "signing_secret".into(),
            key_id,
            ciphertext,
            created_at: prior.map_or(now, |c| c.created_at),
            updated_at: now,
        })
    }

    pub async fn create_subscription(
        &self,
        caller: &Caller,
        req: CreateSubscription,
    ) -> Result<SubscriptionView> {
        let ws = workspace_of(caller)?.to_string();
        let errors = check(&req.url, &req.event_types, req.description.as_deref());
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        let now = now_ms();
        let row = SubscriptionRow {
            id: ids::new_id(ids::IdKind::Subscription),
            workspace_id: ws.clone(),
            url: req.url,
            event_types: serde_json::to_string(&req.event_types).unwrap_or_else(|_| "[]".into()),
            description: req.description,
            enabled: req.enabled,
            // Deliveries start with events that happen from now on.
            cursor: self.ctx.store().latest_event_id(&ws).await?,
            consecutive_failures: 0,
            circuit_open_until: None,
            created_at: now,
            updated_at: now,
        };
        let secret = new_secret();
        let cred = self.seal_subscription_secret(&ws, &row.id, None, &secret)?;
        self.ctx.store().insert_subscription(&row, &cred).await?;
        self.ctx
            .store()
            .record_activity(&activity_row(
                Some(&ws),
                None,
                &caller.actor(),
                "subscription.created",
                json!({"subscription_id": row.id, "url": row.url}),
            ))
            .await?;
        Ok(view(row, Some(secret)))
    }

    async fn own_subscription(&self, caller: &Caller, id: &str) -> Result<SubscriptionRow> {
        let ws = workspace_of(caller)?;
        self.ctx
            .store()
            .get_subscription(Some(ws), id)
            .await?
            .ok_or(EngineError::NotFound("subscription"))
    }

    pub async fn list_subscriptions(&self, caller: &Caller) -> Result<Vec<SubscriptionView>> {
        let ws = workspace_of(caller)?;
        Ok(self
            .ctx
            .store()
            .list_subscriptions(Some(ws))
            .await?
            .into_iter()
            .map(|s| view(s, None))
            .collect())
    }

    pub async fn get_subscription(&self, caller: &Caller, id: &str) -> Result<SubscriptionView> {
        Ok(view(self.own_subscription(caller, id).await?, None))
    }

    pub async fn patch_subscription(
        &self,
        caller: &Caller,
        id: &str,
        req: PatchSubscription,
    ) -> Result<SubscriptionView> {
        let mut row = self.own_subscription(caller, id).await?;
        if let Some(u) = req.url {
            row.url = u;
        }
        if let Some(t) = req.event_types {
            row.event_types = serde_json::to_string(&t).unwrap_or_else(|_| "[]".into());
        }
        let types: Vec<String> = serde_json::from_str(&row.event_types).unwrap_or_default();
        let errors = check(&row.url, &types, req.description.as_deref());
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        if req.description.is_some() {
            row.description = req.description;
        }
        if let Some(e) = req.enabled {
            if e && !row.enabled {
                row.consecutive_failures = 0;
                row.circuit_open_until = None;
            }
            row.enabled = e;
        }
        row.updated_at = now_ms();
        let mut shown = None;
        let cred = if req.rotate_secret {
            let prior = self.ctx.store().list_credentials(OWNER, &row.id).await?;
            let secret = new_secret();
            let cred =
                self.seal_subscription_secret(&row.workspace_id, &row.id, prior.first(), &secret)?;
            shown = Some(secret);
            Some(cred)
        } else {
            None
        };
        self.ctx
            .store()
            .update_subscription(&row, cred.as_ref())
            .await?;
        if shown.is_some() {
            self.ctx
                .store()
                .record_activity(&activity_row(
                    Some(&row.workspace_id),
                    None,
                    &caller.actor(),
                    "subscription.secret_rotated",
                    json!({"subscription_id": row.id}),
                ))
                .await?;
        }
        Ok(view(row, shown))
    }

    pub async fn delete_subscription(&self, caller: &Caller, id: &str) -> Result<()> {
        let row = self.own_subscription(caller, id).await?;
        self.ctx.store().delete_subscription(&row.id).await?;
        Ok(())
    }

    pub async fn list_deliveries(
        &self,
        caller: &Caller,
        id: &str,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<DeliveryView>> {
        let row = self.own_subscription(caller, id).await?;
        let limit = crate::page_limit(limit);
        let rows = self
            .ctx
            .store()
            .list_deliveries(&row.id, cursor, limit + 1)
            .await?;
        Ok(Page::from_overfetch(
            rows.into_iter().map(Into::into).collect(),
            limit,
            |d: &DeliveryView| d.id.clone(),
        ))
    }

    /// Sends a delivery again now (and closes its subscription's circuit).
    pub async fn retry_delivery(&self, caller: &Caller, delivery_id: &str) -> Result<DeliveryView> {
        let d = self
            .ctx
            .store()
            .get_delivery(delivery_id)
            .await?
            .ok_or(EngineError::NotFound("delivery"))?;
        self.own_subscription(caller, &d.subscription_id).await?;
        self.ctx.store().reset_circuit(&d.subscription_id).await?;
        self.ctx
            .store()
            .retry_delivery(delivery_id, now_ms())
            .await?;
        Ok(self
            .ctx
            .store()
            .get_delivery(delivery_id)
            .await?
            .ok_or(EngineError::NotFound("delivery"))?
            .into())
    }
}

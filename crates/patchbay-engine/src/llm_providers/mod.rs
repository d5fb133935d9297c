//! Custom OpenAI-compatible LLM providers: kept by operators (admin key) for every
//! workspace, read by applications without their keys. The API key and the extra headers'
//! values are sealed credentials; answers and activity carry hints and names only.

mod probe;
pub mod rules;
mod views;

use views::{list, workspace_view};
pub use views::{LlmProviderTest, LlmProviderView, PutLlmProvider, WorkspaceLlmProvider};

use crate::auth::{activity_row, Caller};
use crate::error::{EngineError, Result};
use crate::oauth::apps::workspace_of;
use crate::views::Page;
use patchbay_core::{ids, ms_to_rfc3339, now_ms, Secret};
use patchbay_store::{
    CredentialRow, LlmProviderRow, LlmProviderWrite, StoreError, LLM_PROVIDER_OWNER,
};
use serde_json::json;
use std::collections::BTreeMap;

/// Credentials rows have a workspace; the registry belongs to the operator, not to one.
const NO_WORKSPACE: &str = "";
const API_KEY: &str = "api_key";
const HEADERS: &str = "extra_headers";

fn only_admin(caller: &Caller) -> Result<()> {
    match caller {
        Caller::Admin => Ok(()),
        _ => Err(EngineError::Forbidden(
            "LLM providers are kept with the admin key".into(),
        )),
    }
}

/// The opened secrets of a provider.
#[derive(Default)]
struct Secrets {
    api_key: Option<Secret>,
    headers: BTreeMap<String, Secret>,
    /// Stored credential ids by field, reused when re-sealing (the id is in the AAD).
    ids: BTreeMap<String, String>,
}

#[derive(Clone)]
pub struct LlmProviders {
    ctx: crate::Context,
}

impl LlmProviders {
    pub(crate) fn new(ctx: crate::Context) -> Self {
        LlmProviders { ctx }
    }

    /// Creates (`true`) or replaces a provider.
    pub async fn put(
        &self,
        caller: &Caller,
        id: &str,
        req: PutLlmProvider,
    ) -> Result<(LlmProviderView, bool)> {
        only_admin(caller)?;
        let mut errors = Vec::new();
        errors.extend(rules::check_id(id));
        errors.extend(rules::check_name(&req.name));
        let base_url = rules::check_base_url(&req.base_url, self.ctx.http().policy())
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        let models = rules::check_models(&req.models, &mut errors);
        let headers = req
            .extra_headers
            .as_ref()
            .map(|h| rules::check_headers(h, &mut errors));
        if let Some(Some(key)) = &req.api_key {
            errors.extend(rules::check_api_key(key));
        }
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        let existing = self.ctx.store().get_llm_provider(id).await?;
        let stored = match &existing {
            Some(_) => self.secrets(id).await?,
            None => Secrets::default(),
        };
        let now = now_ms();
        let same_url = existing.as_ref().is_some_and(|e| e.base_url == base_url);
        let row = LlmProviderRow {
            id: id.to_string(),
            name: req.name.trim().to_string(),
            base_url,
            models: json!(models).to_string(),
            // What a test found at another address says nothing about this one.
            discovered_models: existing
                .as_ref()
                .filter(|_| same_url)
                .map_or_else(|| "[]".into(), |e| e.discovered_models.clone()),
            extra_header_names: match &headers {
                Some(h) => json!(h.keys().collect::<Vec<_>>()).to_string(),
                None => existing
                    .as_ref()
                    .map_or_else(|| "[]".into(), |e| e.extra_header_names.clone()),
            },
            enabled: req.enabled,
            tested_at: existing
                .as_ref()
                .filter(|_| same_url)
                .and_then(|e| e.tested_at),
            created_at: existing.as_ref().map_or(now, |e| e.created_at),
            updated_at: now,
        };
        let mut seal = Vec::new();
        let mut drop_fields = Vec::new();
        match &req.api_key {
            Some(Some(key)) => seal.push(self.seal(id, &stored, API_KEY, key, now)?),
            Some(None) => drop_fields.push(API_KEY),
            None => {}
        }
        match &headers {
            Some(h) if !h.is_empty() => {
                let plain: BTreeMap<&str, &str> =
                    h.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
                let secret = Secret::new(json!(plain).to_string());
                seal.push(self.seal(id, &stored, HEADERS, &secret, now)?);
            }
            Some(_) => drop_fields.push(HEADERS),
            None => {}
        }
        let has_key = match &req.api_key {
            Some(k) => k.is_some(),
            None => stored.api_key.is_some(),
        };
        let created = existing.is_none();
        let details = json!({
            "provider_id": id,
            "name": row.name,
            "base_url": row.base_url,
            "enabled": row.enabled,
            "models": models,
            "has_api_key": has_key,
            "api_key_changed": req.api_key.is_some(),
            "extra_header_names": list(&row.extra_header_names),
        });
        let action = if created {
            "llm_provider.created"
        } else {
            "llm_provider.updated"
        };
        let activity = activity_row(None, None, &caller.actor(), action, details);
        self.ctx
            .store()
            .put_llm_provider(LlmProviderWrite {
                row: &row,
                create: created,
                seal: &seal,
                drop_fields: &drop_fields,
                activity: &activity,
            })
            .await
            .map_err(|e| match e {
                StoreError::Unique { .. } => EngineError::Conflict(format!(
                    "LLM provider '{id}' was created by another request meanwhile; send the PUT again"
                )),
                other => other.into(),
            })?;
        Ok((self.view(row).await?, created))
    }

    fn seal(
        &self,
        id: &str,
        stored: &Secrets,
        field: &str,
        secret: &Secret,
        now: i64,
    ) -> Result<CredentialRow> {
        let cred_id = stored
            .ids
            .get(field)
            .cloned()
            .unwrap_or_else(|| ids::new_id(ids::IdKind::Credential));
        let (ciphertext, key_id) =
            self.ctx
                .vault()
                .seal_credential(&cred_id, (LLM_PROVIDER_OWNER, id), field, secret)?;
        Ok(CredentialRow {
            id: cred_id,
            workspace_id: NO_WORKSPACE.into(),
            owner_type: LLM_PROVIDER_OWNER.into(),
            owner_id: id.into(),
            field: field.into(),
            key_id,
            ciphertext,
            created_at: now,
            updated_at: now,
        })
    }

    async fn secrets(&self, id: &str) -> Result<Secrets> {
        let mut out = Secrets::default();
        for cred in self
            .ctx
            .store()
            .list_credentials(LLM_PROVIDER_OWNER, id)
            .await?
        {
            let secret = self.ctx.vault().open_credential(&cred).await?;
            match cred.field.as_str() {
                API_KEY => out.api_key = Some(secret),
                HEADERS => {
                    let map: BTreeMap<String, String> =
                        serde_json::from_str(secret.expose()).unwrap_or_default();
                    out.headers = map.into_iter().map(|(k, v)| (k, Secret::new(v))).collect();
                }
                _ => {}
            }
            out.ids.insert(cred.field.clone(), cred.id);
        }
        Ok(out)
    }

    async fn view(&self, row: LlmProviderRow) -> Result<LlmProviderView> {
        let secrets = self.secrets(&row.id).await?;
        Ok(LlmProviderView {
            has_api_key: secrets.api_key.is_some(),
            api_key_hint: secrets.api_key.as_ref().map(Secret::hint),
            extra_header_names: list(&row.extra_header_names),
            models: list(&row.models),
            discovered_models: list(&row.discovered_models),
            tested_at: row.tested_at.map(ms_to_rfc3339),
            created_at: ms_to_rfc3339(row.created_at),
            updated_at: ms_to_rfc3339(row.updated_at),
            id: row.id,
            name: row.name,
            base_url: row.base_url,
            enabled: row.enabled,
        })
    }

    /// The row of a provider; an id that cannot exist is simply unknown (404), like any other.
    async fn row(&self, id: &str) -> Result<LlmProviderRow> {
        if !rules::is_well_formed(id) {
            return Err(EngineError::NotFound("llm provider"));
        }
        self.ctx
            .store()
            .get_llm_provider(id)
            .await?
            .ok_or(EngineError::NotFound("llm provider"))
    }

    pub async fn get(&self, caller: &Caller, id: &str) -> Result<LlmProviderView> {
        only_admin(caller)?;
        self.view(self.row(id).await?).await
    }

    pub async fn list(
        &self,
        caller: &Caller,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<LlmProviderView>> {
        only_admin(caller)?;
        let limit = crate::page_limit(limit);
        let rows = self
            .ctx
            .store()
            .list_llm_providers(false, cursor, limit + 1)
            .await?;
        let mut views = Vec::with_capacity(rows.len());
        for row in rows {
            views.push(self.view(row).await?);
        }
        Ok(Page::from_overfetch(views, limit, |v: &LlmProviderView| {
            v.id.clone()
        }))
    }

    pub async fn delete(&self, caller: &Caller, id: &str) -> Result<()> {
        only_admin(caller)?;
        let row = self.row(id).await?;
        let activity = activity_row(
            None,
            None,
            &caller.actor(),
            "llm_provider.deleted",
            json!({"provider_id": row.id, "name": row.name, "base_url": row.base_url}),
        );
        if !self.ctx.store().delete_llm_provider(id, &activity).await? {
            return Err(EngineError::NotFound("llm provider"));
        }
        Ok(())
    }

    /// Lists the provider's models with its key and headers; stores them when it answers.
    /// Every outcome is in the activity log, never with a secret.
    pub async fn test(&self, caller: &Caller, id: &str) -> Result<LlmProviderTest> {
        only_admin(caller)?;
        let row = self.row(id).await?;
        let secrets = self.secrets(id).await?;
        let found = probe::list_models(
            self.ctx.http(),
            &row.base_url,
            secrets.api_key.as_ref(),
            &secrets.headers,
        )
        .await;
        let mut hidden: Vec<&Secret> = secrets.headers.values().collect();
        hidden.extend(secrets.api_key.as_ref());
        match found {
            Ok(models) => {
                let now = now_ms();
                let activity = activity_row(
                    None,
                    None,
                    &caller.actor(),
                    "llm_provider.tested",
                    json!({"provider_id": id, "ok": true, "models_found": models.len()}),
                );
                self.ctx
                    .store()
                    .record_llm_discovery(id, &json!(models).to_string(), now, &activity)
                    .await?;
                Ok(LlmProviderTest {
                    ok: true,
                    provider_id: id.to_string(),
                    models,
                    tested_at: ms_to_rfc3339(now),
                })
            }
            Err(e) => {
                let e = probe::upstream_error(e, &hidden);
                let activity = activity_row(
                    None,
                    None,
                    &caller.actor(),
                    "llm_provider.tested",
                    json!({"provider_id": id, "ok": false, "error": e.to_string()}),
                );
                self.ctx.store().record_activity(&activity).await?;
                Err(EngineError::Connector(e))
            }
        }
    }

    /// The enabled providers, for the caller's workspace.
    pub async fn workspace_list(
        &self,
        caller: &Caller,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<WorkspaceLlmProvider>> {
        workspace_of(caller)?;
        let limit = crate::page_limit(limit);
        let rows = self
            .ctx
            .store()
            .list_llm_providers(true, cursor, limit + 1)
            .await?;
        Ok(Page::from_overfetch(
            rows.into_iter().map(workspace_view).collect(),
            limit,
            |v: &WorkspaceLlmProvider| v.id.clone(),
        ))
    }

    /// One enabled provider; a disabled or unknown one answers 404.
    pub async fn workspace_get(&self, caller: &Caller, id: &str) -> Result<WorkspaceLlmProvider> {
        workspace_of(caller)?;
        let row = self.row(id).await?;
        if !row.enabled {
            return Err(EngineError::NotFound("llm provider"));
        }
        Ok(workspace_view(row))
    }
}

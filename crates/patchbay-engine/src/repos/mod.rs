//! The organisation's repository registry: the repositories a workspace works in, kept by
//! operators (admin key) and read by the workspace's applications. Names are parsed and
//! normalised on the way in, so the store only ever holds `owner/name` in one spelling.

use patchbay_connectors::github::repo_name as name;
pub use patchbay_connectors::github::repo_name::RepoName;

use crate::auth::{activity_row, Caller};
use crate::error::{EngineError, Result};
use crate::oauth::apps::workspace_of;
use crate::views::Page;
use patchbay_core::{ids, ms_to_rfc3339, now_ms, FieldError};
use patchbay_store::{RepositoryRow, StoreError};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

/// Providers whose repositories can be registered.
const PROVIDERS: [&str; 1] = ["github"];

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRepository {
    pub workspace_id: String,
    /// `github` (the default).
    #[serde(default = "github")]
    pub provider: String,
    /// `owner/name`, or a repository URL (`https://github.com/owner/name(.git)`,
    /// `git@github.com:owner/name.git`).
    #[schema(min_length = 3, max_length = 300)]
    pub full_name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub default_branch: Option<String>,
}

fn github() -> String {
    "github".into()
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRepository {
    pub enabled: Option<bool>,
    /// A branch name, or `null` to forget the default branch.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub default_branch: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from a field left out (`None`).
fn present<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepositoryView {
    pub id: String,
    pub workspace_id: String,
    pub provider: String,
    pub owner: String,
    pub name: String,
    pub full_name: String,
    pub enabled: bool,
    pub default_branch: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<RepositoryRow> for RepositoryView {
    fn from(r: RepositoryRow) -> Self {
        RepositoryView {
            id: r.id,
            workspace_id: r.workspace_id,
            provider: r.provider,
            owner: r.owner,
            name: r.name,
            full_name: r.full_name,
            enabled: r.enabled,
            default_branch: r.default_branch,
            created_at: ms_to_rfc3339(r.created_at),
            updated_at: ms_to_rfc3339(r.updated_at),
        }
    }
}

fn only_admin(caller: &Caller) -> Result<()> {
    match caller {
        Caller::Admin => Ok(()),
        _ => Err(EngineError::Forbidden(
            "the repository registry is kept with the admin key".into(),
        )),
    }
}

/// Repositories a workspace builds from.
#[derive(Clone)]
pub struct Repositories {
    ctx: crate::Context,
}

impl Repositories {
    pub(crate) fn new(ctx: crate::Context) -> Self {
        Repositories { ctx }
    }
}

impl Repositories {
    pub async fn create_repository(
        &self,
        caller: &Caller,
        req: CreateRepository,
    ) -> Result<RepositoryView> {
        only_admin(caller)?;
        let mut errors = Vec::new();
        if !PROVIDERS.contains(&req.provider.as_str()) {
            errors.push(FieldError::new(
                "provider",
                "unsupported",
                format!("provider must be one of: {}", PROVIDERS.join(", ")),
            ));
        }
        let parsed = RepoName::parse(&req.full_name)
            .map_err(|e| errors.push(e))
            .ok();
        let branch = req.default_branch.map(|b| b.trim().to_string());
        if let Some(b) = &branch {
            if let Err(e) = name::check_branch(b) {
                errors.push(e);
            }
        }
        let Some(repo) = parsed.filter(|_| errors.is_empty()) else {
            return Err(EngineError::Validation(errors));
        };
        if self
            .ctx
            .store()
            .get_workspace(&req.workspace_id)
            .await?
            .is_none()
        {
            return Err(EngineError::NotFound("workspace"));
        }
        let now = now_ms();
        let row = RepositoryRow {
            id: ids::new_id(ids::IdKind::Repository),
            workspace_id: req.workspace_id,
            provider: req.provider,
            full_name: repo.full_name(),
            owner: repo.owner,
            name: repo.name,
            enabled: req.enabled,
            default_branch: branch,
            created_at: now,
            updated_at: now,
        };
        self.ctx
            .store()
            .insert_repository(&row)
            .await
            .map_err(|e| match e {
                StoreError::Unique { .. } => EngineError::Conflict(format!(
                    "{} is already registered in this workspace",
                    row.full_name
                )),
                other => other.into(),
            })?;
        self.record_repository(caller, &row, "repository.registered")
            .await?;
        Ok(row.into())
    }

    /// Repositories of one workspace, or of all when `workspace_id` is absent, by id.
    pub async fn list_repositories(
        &self,
        caller: &Caller,
        workspace_id: Option<&str>,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<RepositoryView>> {
        only_admin(caller)?;
        self.repository_page(workspace_id, false, cursor, limit)
            .await
    }

    /// The enabled repositories of the caller's workspace: the applications' read view.
    pub async fn workspace_repositories(
        &self,
        caller: &Caller,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<RepositoryView>> {
        let ws = workspace_of(caller)?;
        self.repository_page(Some(ws), true, cursor, limit).await
    }

    async fn repository_page(
        &self,
        workspace_id: Option<&str>,
        enabled_only: bool,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<RepositoryView>> {
        let limit = crate::page_limit(limit);
        let rows = self
            .ctx
            .store()
            .list_repositories(workspace_id, enabled_only, cursor, limit + 1)
            .await?;
        Ok(Page::from_overfetch(
            rows.into_iter().map(Into::into).collect(),
            limit,
            |r: &RepositoryView| r.id.clone(),
        ))
    }

    pub async fn get_repository(&self, caller: &Caller, id: &str) -> Result<RepositoryView> {
        only_admin(caller)?;
        Ok(self.repository_row(id).await?.into())
    }

    /// One enabled repository of the caller's workspace. Any other answers 404, so the ids of
    /// other workspaces' repositories tell nothing.
    pub async fn workspace_repository(&self, caller: &Caller, id: &str) -> Result<RepositoryView> {
        let ws = workspace_of(caller)?;
        let row = self.repository_row(id).await?;
        if row.workspace_id != ws || !row.enabled {
            return Err(EngineError::NotFound("repository"));
        }
        Ok(row.into())
    }

    pub async fn patch_repository(
        &self,
        caller: &Caller,
        id: &str,
        req: PatchRepository,
    ) -> Result<RepositoryView> {
        only_admin(caller)?;
        let mut row = self.repository_row(id).await?;
        if let Some(branch) = req.default_branch {
            let branch = branch.map(|b| b.trim().to_string());
            if let Some(b) = &branch {
                name::check_branch(b).map_err(|e| EngineError::Validation(vec![e]))?;
            }
            row.default_branch = branch;
        }
        if let Some(enabled) = req.enabled {
            row.enabled = enabled;
        }
        row.updated_at = now_ms();
        self.ctx.store().update_repository(&row).await?;
        self.record_repository(caller, &row, "repository.updated")
            .await?;
        Ok(row.into())
    }

    pub async fn delete_repository(&self, caller: &Caller, id: &str) -> Result<()> {
        only_admin(caller)?;
        let row = self.repository_row(id).await?;
        if !self.ctx.store().delete_repository(&row.id).await? {
            return Err(EngineError::NotFound("repository"));
        }
        self.record_repository(caller, &row, "repository.removed")
            .await
    }

    async fn repository_row(&self, id: &str) -> Result<RepositoryRow> {
        self.ctx
            .store()
            .get_repository(id)
            .await?
            .ok_or(EngineError::NotFound("repository"))
    }

    async fn record_repository(
        &self,
        caller: &Caller,
        row: &RepositoryRow,
        action: &str,
    ) -> Result<()> {
        let details = json!({
            "repository_id": row.id,
            "provider": row.provider,
            "full_name": row.full_name,
            "enabled": row.enabled,
            "default_branch": row.default_branch,
        });
        self.ctx
            .store()
            .record_activity(&activity_row(
                Some(&row.workspace_id),
                None,
                &caller.actor(),
                action,
                details,
            ))
            .await?;
        Ok(())
    }
}

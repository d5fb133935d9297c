//! Workspaces and their secret keys.

use crate::auth::{activity_row, hash_key, random_token, WORKSPACE_KEY_PREFIX};
use crate::error::{EngineError, Result};
use crate::views::{CreatedWorkspace, Page, WorkspaceView};
use patchbay_core::{ids, now_ms};
use patchbay_store::{ApiKeyRow, WorkspaceRow};

/// Workspaces and their keys.
#[derive(Clone)]
pub struct Workspaces {
    ctx: crate::Context,
}

impl Workspaces {
    pub(crate) fn new(ctx: crate::Context) -> Self {
        Workspaces { ctx }
    }
}

impl Workspaces {
    /// Creates a workspace and its first secret key; the key is returned this once.
    pub async fn create_workspace(&self, name: &str, actor: &str) -> Result<CreatedWorkspace> {
        let name = name.trim();
        if let Some(err) = crate::text::check_text("name", name, 200) {
            return Err(EngineError::Validation(vec![err]));
        }
        let now = now_ms();
        let ws = WorkspaceRow {
            id: ids::new_id(ids::IdKind::Workspace),
            name: name.to_string(),
            created_at: now,
        };
        let secret = format!("{WORKSPACE_KEY_PREFIX}{}", random_token());
        let key = ApiKeyRow {
            id: ids::new_id(ids::IdKind::ApiKey),
            workspace_id: ws.id.clone(),
            name: "default".into(),
            prefix: secret[..12].to_string(),
            key_hash: hash_key(&secret),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        let activity = activity_row(
            Some(&ws.id),
            None,
            actor,
            "workspace.created",
            serde_json::json!({"name": ws.name, "key_id": key.id}),
        );
        self.ctx
            .store()
            .create_workspace(&ws, &key, &activity)
            .await?;
        Ok(CreatedWorkspace {
            workspace: ws.into(),
            secret_key: secret,
        })
    }

    pub async fn list_workspaces(
        &self,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Page<WorkspaceView>> {
        let rows = self.ctx.store().list_workspaces(cursor, limit + 1).await?;
        let views = rows.into_iter().map(WorkspaceView::from).collect();
        Ok(Page::from_overfetch(views, limit, |w| w.id.clone()))
    }
}

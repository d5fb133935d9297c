//! The outbox as the API reads it: a workspace's events, oldest first.

use super::Events;
use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::views::{EventView, Page};

impl Events {
    pub async fn list_events(
        &self,
        caller: &Caller,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<EventView>> {
        let Caller::Workspace { workspace_id, .. } = caller else {
            return Err(EngineError::Forbidden(
                "events are read with a workspace secret key".into(),
            ));
        };
        let limit = crate::page_limit(limit);
        let rows = self
            .ctx
            .store()
            .list_events(workspace_id, cursor, limit + 1)
            .await?;
        Ok(Page::from_overfetch(
            rows.into_iter().map(EventView::from).collect(),
            limit,
            |e| e.id.clone(),
        ))
    }
}

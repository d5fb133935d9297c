//! The activity log as the API reads it: newest first, per workspace or connection.

use crate::auth::Caller;
use crate::error::Result;
use crate::views::{ActivityView, Page};
use patchbay_store::ActivityFilter;

/// The activity feed: who did what to which connection, newest first.
#[derive(Clone)]
pub struct ActivityLog {
    ctx: crate::Context,
}

impl ActivityLog {
    pub(crate) fn new(ctx: crate::Context) -> Self {
        ActivityLog { ctx }
    }
}

impl ActivityLog {
    pub async fn list_activity(
        &self,
        caller: &Caller,
        connection_id: Option<&str>,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<ActivityView>> {
        let connection_id = match (caller, connection_id) {
            (
                Caller::Integration {
                    connection_id: own, ..
                },
                None,
            ) => Some(own.as_str()),
            (_, c) => c,
        };
        if let Some(c) = connection_id {
            self.ctx.load_connection(caller, c).await?;
        }
        let limit = crate::page_limit(limit);
        let rows = self
            .ctx
            .store()
            .list_activity(&ActivityFilter {
                workspace_id: caller.workspace_id().map(str::to_string),
                connection_id: connection_id.map(str::to_string),
                before: cursor.map(str::to_string),
                limit: limit + 1,
            })
            .await?;
        Ok(Page::from_overfetch(
            rows.into_iter().map(ActivityView::from).collect(),
            limit,
            |a| a.id.clone(),
        ))
    }
}

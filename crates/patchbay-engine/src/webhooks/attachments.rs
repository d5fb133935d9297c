//! Reading the files webhooks brought (a chat message's photo or voice note), by connection
//! and attachment id, for callers who may read that connection.

use super::Webhooks;
use crate::auth::Caller;
use crate::error::{EngineError, Result};
use patchbay_store::AttachmentRow;

impl Webhooks {
    pub async fn attachment(
        &self,
        caller: &Caller,
        connection_id: &str,
        attachment_id: &str,
    ) -> Result<AttachmentRow> {
        self.ctx.load_connection(caller, connection_id).await?;
        let plain = attachment_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !plain || attachment_id.is_empty() || attachment_id.len() > 128 {
            return Err(EngineError::NotFound("attachment"));
        }
        self.ctx
            .store()
            .get_attachment(connection_id, attachment_id)
            .await?
            .ok_or(EngineError::NotFound("attachment"))
    }
}

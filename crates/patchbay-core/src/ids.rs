//! Prefixed, time-ordered identifiers (`conn_0192…`). Ordering by id follows creation order,
//! which keyset pagination relies on.

/// Kinds of ids, each with its own prefix so a pasted id says what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Workspace,
    ApiKey,
    Connection,
    Credential,
    Principal,
    Grant,
    Activity,
    Event,
    OAuthApp,
    ConnectSession,
    OAuthState,
    Job,
    SyncRun,
    WebhookEvent,
    Subscription,
    Delivery,
    Repository,
    Widget,
    Binding,
}

impl IdKind {
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Workspace => "ws",
            IdKind::ApiKey => "key",
            IdKind::Connection => "conn",
            IdKind::Credential => "cred",
            IdKind::Principal => "prn",
            IdKind::Grant => "grant",
            IdKind::Activity => "act",
            IdKind::Event => "evt",
            IdKind::OAuthApp => "oapp",
            IdKind::ConnectSession => "cs",
            IdKind::OAuthState => "ost",
            IdKind::Job => "job",
            IdKind::SyncRun => "sync",
            IdKind::WebhookEvent => "whe",
            IdKind::Subscription => "sub",
            IdKind::Delivery => "dlv",
            IdKind::Repository => "repo",
            IdKind::Widget => "wdg",
            IdKind::Binding => "bnd",
        }
    }
}

/// A new id: prefix, underscore, UUIDv7 in lowercase hex.
pub fn new_id(kind: IdKind) -> String {
    format!("{}_{}", kind.prefix(), uuid::Uuid::now_v7().simple())
}

/// The creation time (Unix ms) carried by an id made by [`new_id`].
pub fn id_time_ms(id: &str) -> Option<i64> {
    let (_, hex) = id.split_once('_')?;
    i64::from_str_radix(hex.get(..12)?, 16).ok()
}

/// The least id of `kind` made at `ms` or later: ids compare as strings, so every id made
/// from `ms` on sorts after it and every earlier one before it.
pub fn id_floor(kind: IdKind, ms: i64) -> String {
    format!("{}_{:012x}", kind.prefix(), ms.max(0))
}

/// True when `id` looks like an id of `kind`; used to answer 404 early for garbage ids.
pub fn is_id(kind: IdKind, id: &str) -> bool {
    id.strip_prefix(kind.prefix())
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_time() {
        let before = crate::now_ms();
        let id = new_id(IdKind::Event);
        let t = id_time_ms(&id).expect("time");
        assert!(
            t >= before && t <= crate::now_ms(),
            "{t} not within the call"
        );
        assert!(id_floor(IdKind::Event, t).as_str() <= id.as_str());
        assert!(id_floor(IdKind::Event, t + 1).as_str() > id.as_str());
        assert_eq!(id_time_ms("evt_zz"), None);
    }

    #[test]
    fn ids_sort_by_creation_and_parse() {
        let a = new_id(IdKind::Connection);
        let b = new_id(IdKind::Connection);
        assert!(a < b, "{a} should sort before {b}");
        assert!(is_id(IdKind::Connection, &a));
        assert!(!is_id(IdKind::Workspace, &a));
        assert!(!is_id(IdKind::Connection, "conn_xyz"));
    }
}

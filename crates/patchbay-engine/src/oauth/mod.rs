//! OAuth: the workspace's apps per provider (`apps`), connect sessions with the authorize and
//! callback steps that create or update a connection (`connect`), and the token manager that
//! refreshes ahead of expiry, once across processes (`tokens`).

pub mod apps;
pub mod connect;
pub mod tokens;

//! Mail context that does not depend on the provider: calendar invitations in messages
//! (`invites`), and requests and commitments in message text (`action_items`), with the
//! quoted replies and signatures stripped first (`quotes`) and due dates read relative to the
//! message's date (`dates`).

pub mod action_items;
pub mod dates;
pub mod invites;
pub mod quotes;

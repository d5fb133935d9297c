//! Connection lifecycle (what the owner wants) and health (what patchbay observes), kept apart.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Lifecycle of a connection. `revoked` is terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    Draft,
    Enabled,
    Disabled,
    Revoked,
}

/// The one transition table. Staying in the same state is not a transition.
const TRANSITIONS: &[(Lifecycle, Lifecycle)] = &[
    (Lifecycle::Draft, Lifecycle::Enabled),
    (Lifecycle::Draft, Lifecycle::Revoked),
    (Lifecycle::Enabled, Lifecycle::Disabled),
    (Lifecycle::Disabled, Lifecycle::Enabled),
    (Lifecycle::Enabled, Lifecycle::Revoked),
    (Lifecycle::Disabled, Lifecycle::Revoked),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a connection cannot go from {from} to {to}; allowed from {from}: {allowed}")]
pub struct TransitionError {
    pub from: Lifecycle,
    pub to: Lifecycle,
    pub allowed: String,
}

impl Lifecycle {
    pub const ALL: [Lifecycle; 4] = [
        Lifecycle::Draft,
        Lifecycle::Enabled,
        Lifecycle::Disabled,
        Lifecycle::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Draft => "draft",
            Lifecycle::Enabled => "enabled",
            Lifecycle::Disabled => "disabled",
            Lifecycle::Revoked => "revoked",
        }
    }

    /// States reachable from `self` in one step.
    pub fn next_states(self) -> Vec<Lifecycle> {
        TRANSITIONS
            .iter()
            .filter(|(from, _)| *from == self)
            .map(|(_, to)| *to)
            .collect()
    }

    /// Checks a transition against the table.
    pub fn transition(self, to: Lifecycle) -> Result<Lifecycle, TransitionError> {
        if TRANSITIONS.contains(&(self, to)) {
            Ok(to)
        } else {
            let allowed: Vec<&str> = self.next_states().iter().map(|s| s.as_str()).collect();
            Err(TransitionError {
                from: self,
                to,
                allowed: if allowed.is_empty() {
                    "nothing (terminal)".into()
                } else {
                    allowed.join(", ")
                },
            })
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Lifecycle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lifecycle::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                format!("unknown lifecycle '{s}' (expected draft, enabled, disabled or revoked)")
            })
    }
}

/// Observed health of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Degraded,
    Failing,
    NeedsReconnect,
}

impl Health {
    pub const ALL: [Health; 4] = [
        Health::Healthy,
        Health::Degraded,
        Health::Failing,
        Health::NeedsReconnect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Failing => "failing",
            Health::NeedsReconnect => "needs_reconnect",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Health {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Health::ALL
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown health '{s}' (expected healthy, degraded, failing or needs_reconnect)"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Lifecycle::*;

    #[test]
    fn transition_table_is_exact() {
        let allowed = [
            (Draft, Enabled),
            (Draft, Revoked),
            (Enabled, Disabled),
            (Disabled, Enabled),
            (Enabled, Revoked),
            (Disabled, Revoked),
        ];
        for from in Lifecycle::ALL {
            for to in Lifecycle::ALL {
                let ok = from.transition(to).is_ok();
                assert_eq!(ok, allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
        let err = Revoked.transition(Enabled).unwrap_err();
        assert!(err.to_string().contains("terminal"), "{err}");
    }

    #[test]
    fn parse_round_trips() {
        for l in Lifecycle::ALL {
            assert_eq!(l.as_str().parse::<Lifecycle>().unwrap(), l);
        }
        for h in Health::ALL {
            assert_eq!(h.as_str().parse::<Health>().unwrap(), h);
        }
        assert!("bogus".parse::<Health>().is_err());
    }
}

//! Scope keys: the one spelling of "this chat", "this Slack thread", "this issue", "this web
//! session" that bindings are looked up by. Each part is escaped, so a key never reads two ways.

use patchbay_core::FieldError;

pub const CHANNEL_TYPES: [&str; 5] = ["telegram", "slack", "github", "web", "api"];

/// The longest scope key, channel id or thread accepted.
const MAX_PART: usize = 300;

/// A channel as a binding or a message names it.
#[derive(Debug, Clone, Default)]
pub struct Channel {
    pub channel_type: String,
    pub channel_id: Option<String>,
    pub thread: Option<String>,
    /// The Telegram bot's connection (its chats are its own).
    pub connection_id: Option<String>,
    /// The Slack workspace.
    pub team_id: Option<String>,
    /// The web session's owner.
    pub owner_id: Option<String>,
}

fn part(s: &str) -> String {
    s.replace('%', "%25").replace(':', "%3A")
}

fn required<'a>(
    value: &'a Option<String>,
    field: &str,
    why: &str,
    errors: &mut Vec<FieldError>,
) -> &'a str {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => v,
        _ => {
            errors.push(FieldError::new(
                field,
                "required",
                format!("{field} is required {why}"),
            ));
            ""
        }
    }
}

/// Checks free text that becomes part of a key.
pub fn check_text(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    if value.is_empty() || value.chars().count() > MAX_PART || value.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "invalid",
            format!("{field} must be 1 to {MAX_PART} characters without control characters"),
        ));
    }
}

impl Channel {
    /// The scope keys to look a binding up by, most specific first: a Slack thread or a GitHub
    /// issue falls back to its channel or repository.
    pub fn scope_keys(&self) -> Result<Vec<String>, Vec<FieldError>> {
        let mut errors = Vec::new();
        for (field, value) in [
            ("channel_id", &self.channel_id),
            ("thread", &self.thread),
            ("team_id", &self.team_id),
            ("owner_id", &self.owner_id),
        ] {
            if let Some(v) = value {
                check_text(field, v, &mut errors);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let thread = self.thread.as_deref().map(part);
        let keys = match self.channel_type.as_str() {
            "telegram" => {
                let why = "for telegram (the bot's connection and the chat id)";
                let conn = required(&self.connection_id, "connection_id", why, &mut errors);
                let chat = required(&self.channel_id, "channel_id", why, &mut errors);
                vec![format!("telegram:{}:{}", part(conn), part(chat))]
            }
            "slack" => {
                let why = "for slack (the team and the channel id)";
                let team = required(&self.team_id, "team_id", why, &mut errors);
                let channel = required(&self.channel_id, "channel_id", why, &mut errors);
                let base = format!("slack:{}:{}", part(team), part(channel));
                with_thread(base, thread)
            }
            "github" => {
                let why = "for github (the repository owner/name)";
                let repo = required(&self.channel_id, "channel_id", why, &mut errors);
                let repo = repo.to_ascii_lowercase();
                if !repo.is_empty() && repo.split('/').filter(|s| !s.is_empty()).count() != 2 {
                    errors.push(FieldError::new(
                        "channel_id",
                        "invalid",
                        "channel_id must be a repository as owner/name for github",
                    ));
                }
                if let Some(t) = &self.thread {
                    if t.parse::<u64>().is_err() {
                        errors.push(FieldError::new(
                            "thread",
                            "invalid",
                            "thread must be an issue or pull request number for github",
                        ));
                    }
                }
                with_thread(format!("github:{}", part(&repo)), thread)
            }
            "web" => {
                let why = "for web (the session's owner and id)";
                let owner = required(&self.owner_id, "owner_id", why, &mut errors);
                let id = required(&self.channel_id, "channel_id", why, &mut errors);
                vec![format!("web:{}:{}", part(owner), part(id))]
            }
            "api" => {
                let id = required(&self.channel_id, "channel_id", "for api", &mut errors);
                vec![format!("api:{}", part(id))]
            }
            other => {
                errors.push(FieldError::new(
                    "channel_type",
                    "enum",
                    format!(
                        "unknown channel type '{other}'; expected one of {}",
                        CHANNEL_TYPES.join(", ")
                    ),
                ));
                Vec::new()
            }
        };
        if errors.is_empty() {
            Ok(keys)
        } else {
            Err(errors)
        }
    }
}

fn with_thread(base: String, thread: Option<String>) -> Vec<String> {
    match thread {
        Some(t) => vec![format!("{base}:{t}"), base],
        None => vec![base],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(t: &str) -> Channel {
        Channel {
            channel_type: t.into(),
            ..Default::default()
        }
    }

    #[test]
    fn keys_per_channel_type() {
        let mut c = channel("telegram");
        c.connection_id = Some("conn_1".into());
        c.channel_id = Some("-100123".into());
        assert_eq!(c.scope_keys().unwrap(), ["telegram:conn_1:-100123"]);

        let mut c = channel("slack");
        c.team_id = Some("T1".into());
        c.channel_id = Some("C1".into());
        c.thread = Some("1700000000.000100".into());
        assert_eq!(
            c.scope_keys().unwrap(),
            ["slack:T1:C1:1700000000.000100", "slack:T1:C1"]
        );

        let mut c = channel("github");
        c.channel_id = Some("Octo/Repo".into());
        c.thread = Some("12".into());
        assert_eq!(
            c.scope_keys().unwrap(),
            ["github:octo/repo:12", "github:octo/repo"]
        );

        let mut c = channel("web");
        c.owner_id = Some("u:1".into());
        c.channel_id = Some("sess_1".into());
        assert_eq!(c.scope_keys().unwrap(), ["web:u%3A1:sess_1"]);
    }

    #[test]
    fn missing_and_bad_parts_are_field_errors() {
        let errs = channel("telegram").scope_keys().unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["connection_id", "channel_id"]);
        let mut c = channel("github");
        c.channel_id = Some("not-a-repo".into());
        c.thread = Some("x".into());
        assert_eq!(c.scope_keys().unwrap_err().len(), 2);
        assert_eq!(
            channel("fax").scope_keys().unwrap_err()[0].field,
            "channel_type"
        );
        let mut c = channel("api");
        c.channel_id = Some("a\u{0}b".into());
        assert_eq!(c.scope_keys().unwrap_err()[0].code, "invalid");
    }
}

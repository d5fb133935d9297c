//! A connection's configuration, read once per call with the documented defaults.

use super::spec::DEFAULT_ENTITY;
use patchbay_core::ConnectorError;
use serde_json::Value;
use url::Url;

pub struct Settings<'a> {
    /// `base_url` joined with `list_path`, keeping any query `list_path` carries.
    pub list_url: Url,
    pub items_field: &'a str,
    pub id_field: &'a str,
    pub next_cursor_field: &'a str,
    pub cursor_param: &'a str,
    pub limit_param: &'a str,
    pub page_size: u64,
    pub updated_since_param: Option<&'a str>,
    pub updated_at_field: Option<&'a str>,
    pub deleted_field: Option<&'a str>,
    pub auth_header: &'a str,
    pub auth_scheme: &'a str,
}

impl<'a> Settings<'a> {
    pub fn read(config: &'a Value) -> Result<Self, ConnectorError> {
        let text = |field: &str| config.get(field).and_then(Value::as_str);
        let or = |field: &str, default: &'static str| -> &'a str {
            match config.get(field).and_then(Value::as_str) {
                Some(v) if !v.is_empty() => v,
                _ => default,
            }
        };
        let optional = |field: &str| -> Option<&'a str> {
            config
                .get(field)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let base = text("base_url")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConnectorError::Config("'base_url' is not set".into()))?;
        let path = text("list_path")
            .filter(|p| p.starts_with('/'))
            .ok_or_else(|| ConnectorError::Config("'list_path' must start with '/'".into()))?;
        let list_url = Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
            .map_err(|e| ConnectorError::Config(format!("base_url and list_path: {e}")))?;
        if !matches!(list_url.scheme(), "http" | "https") || !list_url.has_host() {
            return Err(ConnectorError::Config(
                "base_url must be an http(s) URL".into(),
            ));
        }
        let page_size = match config.get("page_size") {
            None | Some(Value::Null) => 1000,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    ConnectorError::Config("'page_size' must be between 1 and 10000".into())
                })?,
        };
        Ok(Settings {
            list_url,
            items_field: or("items_field", "data"),
            id_field: or("id_field", "id"),
            next_cursor_field: or("next_cursor_field", "next_cursor"),
            cursor_param: or("cursor_param", "cursor"),
            limit_param: or("limit_param", "limit"),
            page_size,
            updated_since_param: optional("updated_since_param"),
            updated_at_field: optional("updated_at_field"),
            deleted_field: optional("deleted_field"),
            auth_header: or("auth_header", "Authorization"),
            // An empty scheme is meaningful (the key alone), so only absence takes the default.
            auth_scheme: text("auth_scheme").unwrap_or("Bearer"),
        })
    }
}

/// Whether the connection syncs `entity`: one listed in `config.entities`, by default
/// only `records`.
pub fn syncs_entity(config: &Value, entity: &str) -> bool {
    match config.get("entities").and_then(Value::as_array) {
        Some(list) => list.iter().any(|e| e.as_str() == Some(entity)),
        None => entity == DEFAULT_ENTITY,
    }
}

/// A field of an item or answer: a JSON Pointer when `name` starts with '/', otherwise a
/// top-level key.
pub fn field<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    if name.starts_with('/') {
        v.pointer(name)
    } else {
        v.get(name)
    }
}

pub fn field_mut<'v>(v: &'v mut Value, name: &str) -> Option<&'v mut Value> {
    if name.starts_with('/') {
        v.pointer_mut(name)
    } else {
        v.get_mut(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_joined_url() {
        let config =
            json!({"base_url": "https://h.example/api/", "list_path": "/v1/items?state=open"});
        let s = Settings::read(&config).unwrap();
        assert_eq!(
            s.list_url.as_str(),
            "https://h.example/api/v1/items?state=open"
        );
        assert_eq!(
            (s.items_field, s.id_field, s.page_size),
            ("data", "id", 1000)
        );
        assert_eq!((s.auth_header, s.auth_scheme), ("Authorization", "Bearer"));
        assert_eq!(s.updated_since_param, None);

        let raw = json!({"base_url": "https://h.example", "list_path": "/x", "auth_scheme": ""});
        assert_eq!(Settings::read(&raw).unwrap().auth_scheme, "");
        let bad = json!({"base_url": "ftp://h.example", "list_path": "/x"});
        assert!(matches!(
            Settings::read(&bad),
            Err(ConnectorError::Config(_))
        ));
        let bad = json!({"base_url": "https://h.example", "list_path": "x"});
        assert!(matches!(
            Settings::read(&bad),
            Err(ConnectorError::Config(_))
        ));
    }

    #[test]
    fn entities_and_pointers() {
        assert!(syncs_entity(&json!({}), "records"));
        assert!(!syncs_entity(&json!({}), "tickets"));
        let config = json!({"entities": ["tickets"]});
        assert!(syncs_entity(&config, "tickets"));
        assert!(!syncs_entity(&config, "records"));
        let v = json!({"meta": {"next": "c2"}, "next": "c1"});
        assert_eq!(field(&v, "next"), Some(&json!("c1")));
        assert_eq!(field(&v, "/meta/next"), Some(&json!("c2")));
    }
}

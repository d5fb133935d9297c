//! Field-level validation errors and the JSON Schema check behind them.

use crate::secret::SecretMap;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// One problem with one field; `field` is a dotted path such as `config.shop_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    /// Machine-readable rule name: `required`, `pattern`, `format`, `minimum`, …
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Validates `value` against `schema`, naming each failing field under `prefix`.
pub fn check_schema(schema: &Value, value: &Value, prefix: &str) -> Vec<FieldError> {
    check(schema, value, prefix, false)
}

/// Like [`check_schema`], but messages never quote the value (for secrets).
pub fn check_schema_masked(schema: &Value, value: &Value, prefix: &str) -> Vec<FieldError> {
    check(schema, value, prefix, true)
}

/// The compiled validator of `schema`. Compiling (its patterns become regexes) costs far more
/// than checking a value, and every connection read checks two schemas, so validators are kept
/// by the schema's text. Schemas come from connector specs: a handful, so the cache is small;
/// it starts over if it ever holds more than [`MAX_VALIDATORS`].
fn validator(schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let key = schema.to_string();
    if let Some(v) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return Ok(v.clone());
    }
    let compiled = Arc::new(jsonschema::validator_for(schema).map_err(|e| e.to_string())?);
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= MAX_VALIDATORS {
        cache.clear();
    }
    cache.insert(key, compiled.clone());
    Ok(compiled)
}

const MAX_VALIDATORS: usize = 256;

fn check(schema: &Value, value: &Value, prefix: &str, masked: bool) -> Vec<FieldError> {
    let validator = match validator(schema) {
        Ok(v) => v,
        Err(e) => {
            // A connector shipped a broken schema: report it on the whole section.
            return vec![FieldError::new(
                prefix,
                "schema",
                format!("schema error: {e}"),
            )];
        }
    };
    let mut out: Vec<FieldError> = validator
        .iter_errors(value)
        .map(|err| {
            let kind = err.kind();
            let mut path: Vec<String> = err
                .instance_path()
                .as_str()
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect();
            let code = kind.keyword().to_string();
            let message = match kind {
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    let name = property
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| property.to_string());
                    path.push(name.clone());
                    format!("{name} is required")
                }
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    if let Some(first) = unexpected.first() {
                        path.push(first.clone());
                    }
                    format!("unknown field(s): {}", unexpected.join(", "))
                }
                _ if masked => err.masked_with("the value").to_string(),
                _ => err.to_string(),
            };
            let field = std::iter::once(prefix.to_string())
                .chain(path)
                .collect::<Vec<_>>()
                .join(".");
            FieldError {
                field,
                code,
                message,
            }
        })
        .collect();
    out.sort_by(|a, b| a.field.cmp(&b.field).then(a.code.cmp(&b.code)));
    out
}

/// Replaces any secret value quoted in a message, raw or JSON-escaped, with `[redacted]`.
pub fn scrub_secret_message(message: &str, secrets: &SecretMap) -> String {
    let mut m = message.to_string();
    for s in secrets.values().filter(|s| !s.is_empty()) {
        m = m.replace(s.expose(), "[redacted]");
        let escaped = serde_json::to_string(s.expose()).unwrap_or_default();
        let inner = escaped.trim_matches('"');
        if !inner.is_empty() {
            m = m.replace(inner, "[redacted]");
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use serde_json::json;

    #[test]
    fn reports_each_field() {
        let schema = json!({
            "type": "object",
            "required": ["shop_id"],
            "properties": {
                "shop_id": {"type": "string", "pattern": "^[a-z0-9-]{3,40}$"},
                "days": {"type": "integer", "minimum": 1, "maximum": 365}
            },
            "additionalProperties": false
        });
        let errs = check_schema(&schema, &json!({"days": 0, "zzz": 1}), "config");
        let fields: Vec<_> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert!(fields.contains(&("config.shop_id", "required")), "{errs:?}");
        assert!(fields.contains(&("config.days", "minimum")), "{errs:?}");
        assert!(
            fields.contains(&("config.zzz", "additionalProperties")),
            "{errs:?}"
        );
        assert!(check_schema(&schema, &json!({"shop_id": "acme-1"}), "config").is_empty());
    }

    #[test]
    fn masked_messages_never_quote_values() {
        let schema =
            json!({"type": "object", "properties": {"k": {"type": "string", "minLength": 40}}});
        let errs = check_schema_masked(&schema, &json!({"k": "abc\"def-secret"}), "secrets");
        assert_eq!(errs.len(), 1);
        assert!(!errs[0].message.contains("def-secret"), "{:?}", errs[0]);
    }

    #[test]
    fn scrubs_secret_values() {
        let secrets: SecretMap = [("k".to_string(), Secret::new("hunter2-very-secret"))].into();
        let m = scrub_secret_message("\"hunter2-very-secret\" is too short", &secrets);
        assert_eq!(m, "\"[redacted]\" is too short");
    }
}

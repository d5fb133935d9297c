//! Forms generated from a connector's JSON Schemas (config, secrets, action inputs): one control
//! per property, typed from the schema, and the posted strings read back into typed JSON. The
//! engine validates what is read back; this module only turns text into JSON and back, and
//! places each engine [`FieldError`] next to its control.
//!
//! Scalars get inputs (`enum` a select, booleans a yes/no select so "unset" stays possible),
//! arrays of strings a textarea with one item per line, anything else a JSON textarea. Secret
//! inputs are write-only: their values are never rendered back into the page.

use patchbay_core::FieldError;
use serde_json::{Map, Value};

/// One control of a generated form.
pub struct Field {
    /// The HTML id (`config-shop_id`).
    pub id: String,
    /// The form name, which is also the engine's error path (`config.shop_id`).
    pub name: String,
    pub label: String,
    pub description: String,
    /// `text`, `url`, `email`, `number`, `password`, `select`, `lines` or `json`.
    pub control: &'static str,
    pub required: bool,
    pub value: String,
    pub options: Vec<Choice>,
    /// HTML `step` of number inputs: `1` for integers, `any` otherwise.
    pub step: &'static str,
    pub error: Option<String>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The properties of an object schema: the required ones first, in their listed order, then
/// the others by name (the parsed schema does not keep its written order).
fn properties(schema: &Value) -> Vec<(&String, &Value)> {
    let mut props: Vec<(&String, &Value)> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    let required = required(schema);
    props.sort_by_key(|(k, _)| {
        required
            .iter()
            .position(|r| r == k)
            .unwrap_or(required.len())
    });
    props
}

fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn kind(prop: &Value) -> &str {
    match prop.get("type") {
        Some(Value::String(t)) => t,
        // `["string", "null"]`: the first non-null type decides the control.
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string"),
        _ => "string",
    }
}

fn is_string_array(prop: &Value) -> bool {
    kind(prop) == "array"
        && prop
            .get("items")
            .is_none_or(|items| kind(items) == "string" && items.get("enum").is_none())
}

/// A value as the text of its control.
fn as_text(value: &Value, prop: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if is_string_array(prop) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Array(_) | Value::Object(_) => {
            serde_json::to_string_pretty(value).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

/// The controls for `schema`'s properties, named `{prefix}.{property}` (or the bare property
/// with an empty prefix), filled from `values` unless `secret`, with `errors` placed.
pub fn fields(
    schema: &Value,
    prefix: &str,
    values: &Value,
    errors: &[FieldError],
    secret: bool,
) -> Vec<Field> {
    let required = required(schema);
    properties(schema)
        .into_iter()
        .map(|(key, prop)| {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            let text = |k: &str| prop.get(k).and_then(Value::as_str).unwrap_or("");
            let value = if secret {
                String::new()
            } else {
                values
                    .get(key)
                    .map(|v| as_text(v, prop))
                    .unwrap_or_default()
            };
            let enum_values: Option<Vec<String>> = prop
                .get("enum")
                .and_then(Value::as_array)
                .map(|e| e.iter().map(|v| as_text(v, &Value::Null)).collect());
            let (control, options) = match (kind(prop), enum_values) {
                (_, Some(values)) => (
                    "select",
                    values.into_iter().map(|v| (v.clone(), v)).collect(),
                ),
                ("boolean", None) => (
                    "select",
                    vec![("true".into(), "yes".into()), ("false".into(), "no".into())],
                ),
                (_, None) if secret => ("password", vec![]),
                ("integer" | "number", None) => ("number", vec![]),
                ("array", None) if is_string_array(prop) => ("lines", vec![]),
                ("array" | "object", None) => ("json", vec![]),
                (_, None) => match text("format") {
                    "uri" | "url" => ("url", vec![]),
                    "email" => ("email", vec![]),
                    _ => ("text", vec![]),
                },
            };
            let options = options
                .into_iter()
                .map(|(v, label): (String, String)| Choice {
                    selected: v == value,
                    value: v,
                    label,
                })
                .collect();
            // Errors name the field exactly or something inside it (`attendees[0].email`).
            let error = errors
                .iter()
                .filter(|e| {
                    e.field == name
                        || e.field.starts_with(&format!("{name}."))
                        || e.field.starts_with(&format!("{name}["))
                })
                .map(|e| e.message.clone())
                .reduce(|a, b| format!("{a}; {b}"));
            Field {
                id: name.replace(['.', '[', ']'], "-"),
                label: match text("title") {
                    "" => key.replace('_', " "),
                    t => t.to_string(),
                },
                description: text("description").to_string(),
                control,
                required: required.contains(&key.as_str()),
                value,
                options,
                step: if kind(prop) == "integer" { "1" } else { "any" },
                error,
                name,
            }
        })
        .collect()
}

/// Errors no control of `fields` shows: they go at the top of the form.
pub fn unplaced(errors: &[FieldError], fields: &[&[Field]]) -> Vec<String> {
    errors
        .iter()
        .filter(|e| {
            !fields.iter().flat_map(|f| f.iter()).any(|f| {
                e.field == f.name
                    || e.field.starts_with(&format!("{}.", f.name))
                    || e.field.starts_with(&format!("{}[", f.name))
            })
        })
        .map(|e| {
            if e.field.is_empty() {
                e.message.clone()
            } else {
                format!("{}: {}", e.field, e.message)
            }
        })
        .collect()
}

/// Reads `schema`'s properties back from the posted pairs. Empty controls are left out (the
/// engine reports a missing required field); text that cannot be the schema's type is an
/// error on that field. Surrounding blanks are dropped: pasted keys often carry them.
pub fn read(schema: &Value, prefix: &str, form: &[(String, String)]) -> (Value, Vec<FieldError>) {
    let mut out = Map::new();
    let mut errors = Vec::new();
    for (key, prop) in properties(schema) {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let Some(raw) = form.iter().find(|(n, _)| *n == name).map(|(_, v)| v) else {
            continue;
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        let bad = |what: &str| FieldError::new(name.clone(), "type", format!("must be {what}"));
        let value = match kind(prop) {
            "integer" => trimmed
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| bad("a whole number")),
            "number" => trimmed
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| bad("a number")),
            "boolean" => match trimmed {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(bad("yes or no")),
            },
            "array" if is_string_array(prop) => Ok(Value::Array(
                trimmed
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_string()))
                    .collect(),
            )),
            "array" | "object" => serde_json::from_str::<Value>(trimmed)
                .map_err(|_| bad("valid JSON"))
                .and_then(|v| match (kind(prop), &v) {
                    ("array", Value::Array(_)) | ("object", Value::Object(_)) => Ok(v),
                    ("array", _) => Err(bad("a JSON array")),
                    _ => Err(bad("a JSON object")),
                }),
            _ => Ok(Value::String(trimmed.to_string())),
        };
        match value {
            Ok(v) => {
                out.insert(key.clone(), v);
            }
            Err(e) => errors.push(e),
        }
    }
    (Value::Object(out), errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["shop_id", "quantity"],
            "properties": {
                "shop_id": {"type": "string", "title": "Shop id", "pattern": "^[a-z]+$"},
                "quantity": {"type": "integer"},
                "ratio": {"type": "number"},
                "paper": {"type": "string", "enum": ["a4", "letter"]},
                "proof": {"type": "boolean"},
                "labels": {"type": "array", "items": {"type": "string"}},
                "hours": {"type": "object"},
                "url": {"type": "string", "format": "uri"}
            }
        })
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn controls_follow_the_schema() {
        let errors = vec![FieldError::new("config.quantity", "minimum", "too small")];
        let values = json!({"shop_id": "abc", "labels": ["a", "b"], "proof": true});
        let f = fields(&schema(), "config", &values, &errors, false);
        let by = |n: &str| f.iter().find(|x| x.name == n).unwrap();
        assert_eq!(by("config.shop_id").control, "text");
        assert_eq!(by("config.shop_id").label, "Shop id");
        assert_eq!(by("config.shop_id").value, "abc");
        assert!(by("config.shop_id").required);
        assert_eq!(by("config.quantity").control, "number");
        assert_eq!(by("config.quantity").step, "1");
        assert_eq!(by("config.quantity").error.as_deref(), Some("too small"));
        assert_eq!(by("config.paper").control, "select");
        assert_eq!(by("config.paper").options.len(), 2);
        assert!(by("config.proof").options[0].selected);
        assert_eq!(by("config.labels").control, "lines");
        assert_eq!(by("config.labels").value, "a\nb");
        assert_eq!(by("config.hours").control, "json");
        assert_eq!(by("config.url").control, "url");
        assert_eq!(by("config.url").id, "config-url");
        assert!(unplaced(&errors, &[&f]).is_empty());
        let other = vec![FieldError::new("owner.id", "required", "missing")];
        assert_eq!(unplaced(&other, &[&f]), vec!["owner.id: missing"]);
    }

    #[test]
    fn secrets_are_never_filled_back() {
        let s = json!({"properties": {"api_key": {"type": "string"}}});
        let f = fields(&s, "secrets", &json!({"api_key": "sk_live"}), &[], true);
        assert_eq!(f[0].control, "password");
        assert_eq!(f[0].value, "");
    }

    #[test]
    fn posted_text_becomes_typed_json() {
        let form = pairs(&[
            ("config.shop_id", " abc "),
            ("config.quantity", "12"),
            ("config.ratio", "0.5"),
            ("config.paper", ""),
            ("config.proof", "false"),
            ("config.labels", "x\n\n y \n"),
            ("config.hours", r#"{"mon": [9, 17]}"#),
            ("other", "ignored"),
        ]);
        let (v, errors) = read(&schema(), "config", &form);
        assert!(errors.is_empty());
        assert_eq!(
            v,
            json!({"shop_id": "abc", "quantity": 12, "ratio": 0.5, "proof": false,
                   "labels": ["x", "y"], "hours": {"mon": [9, 17]}})
        );
        let (_, errors) = read(
            &schema(),
            "config",
            &pairs(&[("config.quantity", "1.5"), ("config.hours", "[1]")]),
        );
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["config.quantity", "config.hours"]);
    }
}

//! What operators send and what the API answers about providers.

use patchbay_core::{ms_to_rfc3339, Secret};
use patchbay_store::LlmProviderRow;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutLlmProvider {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// The OpenAI-compatible API root, such as `https://llm.example.com/v1`; `https` unless
    /// private networks are allowed.
    #[schema(min_length = 1, max_length = 2000)]
    pub base_url: String,
    /// Sent as `Authorization: Bearer …`; stored encrypted, never returned. Left out, the
    /// stored key stays; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 4096)]
    pub api_key: Option<Option<Secret>>,
    /// Model ids offered to workspaces (the test adds what the provider lists).
    #[serde(default)]
    pub models: Vec<String>,
    /// Sent with every call. Values are treated as secrets: stored encrypted, never returned.
    /// Left out, the stored headers stay; `{}` removes them.
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub extra_headers: Option<BTreeMap<String, Secret>>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Tells a field sent as `null` (`Some(None)`) from a field left out (`None`).
fn present<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<Secret>>, D::Error> {
    Option::<Secret>::deserialize(d).map(Some)
}

/// A provider as operators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LlmProviderView {
    pub id: String,
    pub name: String,
    pub base_url: String,
    pub models: Vec<String>,
    /// What the last successful test found at `GET {base_url}/models`.
    pub discovered_models: Vec<String>,
    pub has_api_key: bool,
    /// A hint such as `••••9f2c` (the last four characters of long keys only).
    pub api_key_hint: Option<String>,
    /// Names of the extra headers; their values are never returned.
    pub extra_header_names: Vec<String>,
    pub enabled: bool,
    pub tested_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An enabled provider as workspaces see it: no key, no headers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkspaceLlmProvider {
    pub id: String,
    pub name: String,
    pub base_url: String,
    pub models: Vec<String>,
    pub discovered_models: Vec<String>,
    pub updated_at: String,
}

/// A successful test.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LlmProviderTest {
    pub ok: bool,
    pub provider_id: String,
    /// Model ids the provider lists, now stored as `discovered_models`.
    pub models: Vec<String>,
    pub tested_at: String,
}

pub(super) fn list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

pub(super) fn workspace_view(row: LlmProviderRow) -> WorkspaceLlmProvider {
    WorkspaceLlmProvider {
        models: list(&row.models),
        discovered_models: list(&row.discovered_models),
        updated_at: ms_to_rfc3339(row.updated_at),
        id: row.id,
        name: row.name,
        base_url: row.base_url,
    }
}

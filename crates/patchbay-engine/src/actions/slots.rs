//! Free time shared by several people: each calendar connection finds its own free slots on
//! the same grid (same zone, working hours, duration and step), and a slot is offered when
//! every connection offers it. Each connection's answer is an action run of its own, with its
//! authorization and activity entry.

use super::Actions;
use crate::auth::Caller;
use crate::error::{EngineError, Result};
use patchbay_core::FieldError;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The body of `POST /v1/available-slots` as documented; the engine reads it as JSON so the
/// `available_slots` fields pass through to each connection unchanged.
#[allow(dead_code)]
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct SharedSlotsRequest {
    /// Calendar connections whose owners must all be free.
    #[schema(min_items = 1, max_items = 10)]
    connection_ids: Vec<String>,
    /// The IANA zone the working hours and the answer are in.
    #[schema(min_length = 1, max_length = 64)]
    time_zone: String,
    #[schema(minimum = 5, maximum = 1440)]
    duration_minutes: u32,
    /// RFC 3339; default now.
    start: Option<String>,
    /// RFC 3339; or `horizon_days`.
    end: Option<String>,
    #[schema(minimum = 1, maximum = 90)]
    horizon_days: Option<u32>,
    #[schema(minimum = 0, maximum = 240)]
    buffer_before_minutes: Option<u32>,
    #[schema(minimum = 0, maximum = 240)]
    buffer_after_minutes: Option<u32>,
    #[schema(minimum = 5, maximum = 240)]
    step_minutes: Option<u32>,
    /// Per weekday (`mon` … `sun`), local `[["09:00", "17:00"]]`; default Monday to Friday
    /// 09:00–17:00.
    #[schema(value_type = Option<Object>)]
    working_hours: Option<Value>,
    tentative_busy: Option<bool>,
    #[schema(minimum = 1, maximum = 1000)]
    max_slots: Option<u32>,
}

/// Connections asked at most.
const MAX_CONNECTIONS: usize = 10;
/// Slots each connection answers with before the intersection.
const PER_CONNECTION: u64 = 1000;

impl Actions {
    /// `input` is the `available_slots` action input plus `connection_ids`; `time_zone` is
    /// required so every connection counts in the same local time.
    pub async fn shared_slots(&self, caller: &Caller, mut input: Value) -> Result<Value> {
        let ids: Vec<String> = input["connection_ids"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut errors = Vec::new();
        if ids.is_empty() || ids.len() > MAX_CONNECTIONS {
            errors.push(FieldError::new(
                "connection_ids",
                "size",
                format!("give 1 to {MAX_CONNECTIONS} calendar connections"),
            ));
        }
        if !input["time_zone"].is_string() {
            errors.push(FieldError::new(
                "time_zone",
                "required",
                "an IANA zone the working hours are read in",
            ));
        }
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        let wanted = input["max_slots"].as_u64().unwrap_or(100).clamp(1, 1000) as usize;
        if let Some(o) = input.as_object_mut() {
            o.remove("connection_ids");
            o.insert("max_slots".into(), json!(PER_CONNECTION));
        }
        let mut shared: Option<BTreeSet<(String, String)>> = None;
        let mut order = Vec::new();
        for id in &ids {
            let out = self
                .run_action(caller, id, "available_slots", input.clone())
                .await?;
            let slots: Vec<(String, String)> = out.result["slots"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| Some((s["start"].as_str()?.into(), s["end"].as_str()?.into())))
                .collect();
            if shared.is_none() {
                order = slots.clone();
            }
            let these: BTreeSet<(String, String)> = slots.into_iter().collect();
            shared = Some(match shared {
                None => these,
                Some(s) => s.intersection(&these).cloned().collect(),
            });
        }
        let shared = shared.unwrap_or_default();
        let slots: Vec<Value> = order
            .into_iter()
            .filter(|s| shared.contains(s))
            .take(wanted)
            .map(|(start, end)| json!({"start": start, "end": end}))
            .collect();
        Ok(json!({"time_zone": input["time_zone"], "connection_ids": ids, "slots": slots}))
    }
}

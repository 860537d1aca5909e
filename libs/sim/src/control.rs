//! The control API every simulator serves under `/_sim/`.
//!
//! Lets processes other than the test that started a simulator (the demo, `cargo xtask bench`,
//! a shell with curl) inject faults and read the request log:
//!
//! | request | effect |
//! |---|---|
//! | `GET /_sim/faults` | `{"latency_ms": n, "faults": [FaultSpec, ...]}` |
//! | `POST /_sim/faults` | body: one [`FaultSpec`], a list of them, or `{"faults": [...], "latency_ms": n, "replace": bool}` |
//! | `DELETE /_sim/faults` | removes all path faults (`?path=P` removes one); global latency stays |
//! | `GET /_sim/log` | the retained [`LogEntry`](crate::LogEntry)s as JSON (times in ms since start) |
//! | `GET /_sim/stats` | `{"requests": n, "peak_concurrency": n, "in_flight": n, "paths": {path: n}}` |
//! | `POST /_sim/reset` | clears the log and the statistics |
//!
//! Control requests are neither logged nor subject to faults or latency.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::{FaultRule, FaultSpec, Faults};
use crate::log::RequestLog;

#[derive(Clone, Debug)]
struct Control {
    log: RequestLog,
    faults: Faults,
}

/// Builds the `/_sim/...` router over one server's log and fault table.
pub(crate) fn router(log: RequestLog, faults: Faults) -> Router {
    Router::new()
        .route(
            "/_sim/faults",
            get(list_faults).post(post_faults).delete(delete_faults),
        )
        .route("/_sim/log", get(get_log))
        .route("/_sim/stats", get(get_stats))
        .route("/_sim/reset", post(reset))
        .with_state(Control { log, faults })
}

fn faults_json(faults: &Faults) -> Value {
    let specs: Vec<FaultSpec> = faults.rules().iter().map(FaultSpec::from_rule).collect();
    json!({
        "latency_ms": u64::try_from(faults.latency().as_millis()).unwrap_or(u64::MAX),
        "faults": specs,
    })
}

async fn list_faults(State(control): State<Control>) -> Response {
    axum::Json(faults_json(&control.faults)).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSet {
    #[serde(default)]
    faults: Vec<FaultSpec>,
    #[serde(default)]
    latency_ms: Option<u64>,
    #[serde(default)]
    replace: bool,
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, message).into_response()
}

async fn post_faults(State(control): State<Control>, body: Bytes) -> Response {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => return bad_request(format!("invalid JSON: {e}")),
    };
    let set = if value.is_array() {
        serde_json::from_value::<Vec<FaultSpec>>(value).map(|faults| FaultSet {
            faults,
            latency_ms: None,
            replace: false,
        })
    } else if value.get("path").is_some() {
        serde_json::from_value::<FaultSpec>(value).map(|spec| FaultSet {
            faults: vec![spec],
            latency_ms: None,
            replace: false,
        })
    } else {
        serde_json::from_value::<FaultSet>(value)
    };
    let set = match set {
        Ok(set) => set,
        Err(e) => return bad_request(format!("invalid fault description: {e}")),
    };
    let rules: Result<Vec<FaultRule>, _> = set.faults.iter().map(FaultSpec::to_rule).collect();
    let rules = match rules {
        Ok(rules) => rules,
        Err(e) => return bad_request(e.to_string()),
    };
    if set.replace {
        control.faults.clear();
    }
    for rule in rules {
        control.faults.insert(rule);
    }
    if let Some(ms) = set.latency_ms {
        control.faults.set_latency(Duration::from_millis(ms));
    }
    axum::Json(faults_json(&control.faults)).into_response()
}

#[derive(Debug, Deserialize)]
struct DeleteQuery {
    path: Option<String>,
}

async fn delete_faults(
    State(control): State<Control>,
    Query(query): Query<DeleteQuery>,
) -> Response {
    match query.path {
        Some(path) => {
            control.faults.remove(&path);
        }
        None => control.faults.clear(),
    }
    axum::Json(faults_json(&control.faults)).into_response()
}

async fn get_log(State(control): State<Control>) -> Response {
    axum::Json(control.log.to_json()).into_response()
}

async fn get_stats(State(control): State<Control>) -> Response {
    axum::Json(control.log.stats_json()).into_response()
}

async fn reset(State(control): State<Control>) -> Response {
    control.log.reset();
    axum::Json(control.log.stats_json()).into_response()
}

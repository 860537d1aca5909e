//! The `/pve` handler: validate the request, scrape, render, answer — always 200 with whatever
//! could be collected, unless the request itself is wrong.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use portkey_kit::allowlist::Allowlist;
use portkey_kit::collector::{ScrapeReport, encode_up};
use portkey_kit::deadline::DeadlinePolicy;
use portkey_kit::probe::{ProbeError, QueryParams, authorize_target};
use portkey_kit::respond::{Negotiation, streamed_exposition_response};
use portkey_kit::target::{Scheme as KitScheme, Target};

use crate::api::ApiClient;
use crate::collectors::{self, CollectorSet, ScrapeInputs, Selection};
use crate::config::{Module, Scheme};
use crate::scrape::{self, LogContext, Timings};
use crate::self_metrics::SelfMetrics;

/// HELP of `pve_api_up`.
pub const API_UP_HELP: &str = "Whether the PVE API at the target answered at least one call of this scrape with a 2xx status (1) or not (0).";

/// Everything one module needs at scrape time, built once at start-up.
#[derive(Debug)]
pub struct ModuleState {
    /// The validated module.
    pub module: Module,
    /// Its pooled client (connections and tickets shared by every scrape).
    pub client: ApiClient,
    /// Its target allowlist (empty = any).
    pub allowlist: Allowlist,
    /// Failover targets, parsed.
    pub failover: Vec<Target>,
    /// The failover target that answered last, tried first next time.
    pub last_good_failover: Mutex<Option<usize>>,
}

/// Shared state of the `/pve` handler.
#[derive(Debug)]
pub struct AppState {
    /// Modules by name.
    pub modules: std::collections::BTreeMap<String, ModuleState>,
    /// Collectors enabled by flags.
    pub collectors: CollectorSet,
    /// `--compat.not-backed-up-total`.
    pub compat_not_backed_up_total: bool,
    /// `--pve.default-target`.
    pub default_target: String,
    /// `--pve.max-concurrency`.
    pub default_max_concurrency: usize,
    /// The scrape deadline policy.
    pub deadline: DeadlinePolicy,
    /// Self-metrics.
    pub metrics: SelfMetrics,
}

/// `GET /pve?module=&target=&cluster=&node=`.
pub async fn pve(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let params = QueryParams::parse(query.as_deref());
    let request = match Request::parse(&state, &params) {
        Ok(request) => request,
        Err((error, module)) => {
            if let Some(module) = module {
                state.metrics.request_errors.inc(&[&module]);
                state
                    .metrics
                    .collection_duration
                    .observe(&[&module], started.elapsed().as_secs_f64());
            }
            return error.into_response();
        }
    };
    let module = &state.modules[&request.module];
    let selection = Selection {
        cluster: request.cluster,
        node: request.node,
        collectors: state.collectors,
        compat_not_backed_up_total: state.compat_not_backed_up_total,
    };
    let deadline = state.deadline.deadline(&headers);
    let max_concurrency = module
        .module
        .max_concurrency
        .map_or(state.default_max_concurrency, |n| n.get());
    let log = LogContext {
        module: &request.module,
        target: &request.raw_target,
    };
    let api_metrics = state.metrics.api.as_ref();

    let base = base_url(&module.module, &request.target);
    let session = module
        .client
        .session(&base, deadline, max_concurrency, api_metrics);
    let (mut inputs, mut timings) = scrape::fetch_all(&session, &selection, log).await;
    let mut answered = session.answered();
    let mut failover_used = None;
    if selection.cluster
        && !selection.node
        && !answered
        && target_unreachable(&inputs)
        && let Some((index, failover_inputs, failover_timings)) = fail_over(
            module,
            &request.target,
            &selection,
            deadline,
            max_concurrency,
            &state,
            log,
        )
        .await
    {
        inputs = failover_inputs;
        timings = failover_timings;
        answered = true;
        failover_used = Some(index);
    }

    let failover_target = failover_used.map(|index| module.failover[index].to_string());
    let state = state.clone();
    // Rendering streams: a 2000-guest scrape is megabytes of text that never needs to sit in
    // memory at once. The self-metrics are updated once the collectors' outcomes are known.
    streamed_exposition_response(Negotiation::TextOnly, &headers, move |encoder| {
        let outcomes = collectors::render(&inputs, &selection, encoder);
        drop(inputs);
        if let Some(target) = &failover_target {
            collectors::encode_failover_target(encoder, target);
        }
        let mut report = ScrapeReport::new();
        for (collector, success) in &outcomes {
            report.record(collector.name(), *success, timings.collector(*collector));
        }
        encode_up(encoder, "pve_api_up", API_UP_HELP, answered);
        report.encode("pve", encoder);
        record_request(
            &state,
            &request,
            report.any_failed(),
            started.elapsed().as_secs_f64(),
        );
    })
}

/// Updates the self-metrics for one completed `/pve` request.
fn record_request(state: &AppState, request: &Request, failed: bool, elapsed: f64) {
    state
        .metrics
        .collection_duration
        .observe(&[&request.module], elapsed);
    if failed {
        state.metrics.request_errors.inc(&[&request.module]);
    }
    let flag = |b: bool| if b { "1" } else { "0" };
    let target_labels = [
        request.raw_target.as_str(),
        flag(request.cluster),
        flag(request.node),
    ];
    if let Some(duration) = &state.metrics.target_duration {
        duration.observe(&target_labels, elapsed);
    }
    if let (Some(errors), true) = (&state.metrics.target_errors, failed) {
        errors.inc(&target_labels);
    }
}

/// A validated `/pve` request.
struct Request {
    module: String,
    raw_target: String,
    target: Target,
    cluster: bool,
    node: bool,
}

impl Request {
    /// Validates parameters in the order that keeps credentials safe: parameters, module, target,
    /// allowlist. The error carries the module name when the module exists (for the error counter).
    fn parse(
        state: &AppState,
        params: &QueryParams,
    ) -> Result<Request, (ProbeError, Option<String>)> {
        let module_name = params
            .single("module")
            .map_err(|e| (e, None))?
            .unwrap_or(crate::config::DEFAULT_MODULE)
            .to_owned();
        let known = state.modules.contains_key(&module_name);
        let with_module = |e: ProbeError| (e, known.then(|| module_name.clone()));
        let target = params.single("target").map_err(with_module)?;
        let cluster = params.single("cluster").map_err(with_module)?;
        let node = params.single("node").map_err(with_module)?;
        let Some(module) = state.modules.get(&module_name) else {
            return Err((ProbeError::UnknownModule(module_name), None));
        };
        let raw_target = target.unwrap_or(&state.default_target).to_owned();
        let target = authorize_target(
            &raw_target,
            &module_name,
            &module.allowlist,
            module.module.port,
        )
        .map_err(with_module)?;
        Ok(Request {
            module: module_name,
            raw_target,
            target,
            cluster: cluster.is_none_or(Selection::parse_flag),
            node: node.is_none_or(Selection::parse_flag),
        })
    }
}

fn base_url(module: &Module, target: &Target) -> String {
    let scheme = match module.scheme {
        Scheme::Http => KitScheme::Http,
        Scheme::Https => KitScheme::Https,
    };
    target.base_url(scheme, module.port)
}

/// Whether the cluster inputs failed because the target could not be reached at all.
fn target_unreachable(inputs: &ScrapeInputs) -> bool {
    fn unreachable<T>(input: &collectors::Input<T>) -> bool {
        matches!(input, Some(Err(failure)) if failure.target_unreachable())
    }
    unreachable(&inputs.cluster_status) || unreachable(&inputs.cluster_resources)
}

/// Runs the cluster collectors against the module's failover targets, last good first, within the
/// same deadline; returns the index of the target that answered.
async fn fail_over(
    module: &ModuleState,
    requested: &Target,
    selection: &Selection,
    deadline: portkey_kit::deadline::Deadline,
    max_concurrency: usize,
    state: &AppState,
    log: LogContext<'_>,
) -> Option<(usize, ScrapeInputs, Timings)> {
    let last_good = *module
        .last_good_failover
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let mut order: Vec<usize> = (0..module.failover.len()).collect();
    if let Some(good) = last_good {
        order.retain(|i| *i != good);
        order.insert(0, good);
    }
    for index in order {
        if deadline.expired() {
            break;
        }
        let target = &module.failover[index];
        // The requested target was just found unreachable; asking it again would only spend
        // the deadline.
        if target.authority(module.module.port) == requested.authority(module.module.port) {
            continue;
        }
        let base = base_url(&module.module, target);
        let session =
            module
                .client
                .session(&base, deadline, max_concurrency, state.metrics.api.as_ref());
        let (inputs, timings) = scrape::fetch_all(&session, selection, log).await;
        if session.answered() {
            tracing::info!(
                module = log.module,
                target = log.target,
                failover = %target,
                "target unreachable; cluster collectors answered by a failover target"
            );
            *module
                .last_good_failover
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(index);
            return Some((index, inputs, timings));
        }
    }
    None
}

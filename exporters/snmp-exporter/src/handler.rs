//! `GET /snmp?target=&module=&auth=`: validate the request with upstream's messages, run the SNMP
//! work, render — HTTP 200 with whatever could be collected unless the request itself is wrong.

use std::collections::HashSet;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portkey_kit::probe::QueryParams;
use portkey_kit::target::Target;

use crate::app::AppState;
use crate::client::{ClientError, Session, SessionParams, Transport};
use crate::collect::{self, Failure, Runner};
use crate::config::{Auth, Config, Module};
use crate::filter::Selection;
use crate::render::{Families, RenderOptions, render_module};
use crate::text::{self, FamilyType};

/// HELP of `snmp_up`.
pub const UP_HELP: &str =
    "Whether the target answered at least one SNMP request with a valid response (1) or not (0).";
/// Default SNMP port.
pub const DEFAULT_PORT: u16 = 161;

/// A refused request: 400 or 403 with a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    /// 400 or 403.
    pub status: StatusCode,
    /// The message (a newline is appended in the response).
    pub message: String,
}

impl BadRequest {
    fn new(message: impl Into<String>) -> BadRequest {
        BadRequest {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", self.message),
        )
            .into_response()
    }
}

/// A parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpTarget {
    /// Transport.
    pub transport: Transport,
    /// Host or IP literal.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The kit's form, for allowlists.
    pub target: Target,
}

/// Parses `host`, `host:port`, `[v6]:port`, optionally prefixed `udp://` or `tcp://`.
pub fn parse_target(raw: &str) -> Result<SnmpTarget, String> {
    let lower = raw.to_ascii_lowercase();
    let (transport, rest) = if lower.starts_with("udp://") {
        (Transport::Udp, &raw[6..])
    } else if lower.starts_with("tcp://") {
        (Transport::Tcp, &raw[6..])
    } else if raw.contains("://") {
        return Err("only udp:// and tcp:// prefixes are supported".to_owned());
    } else {
        (Transport::Udp, raw)
    };
    let target = Target::parse(rest).map_err(|e| e.0)?;
    Ok(SnmpTarget {
        transport,
        host: target.host.clone(),
        port: target.port_or(DEFAULT_PORT),
        target,
    })
}

/// A validated `/snmp` request.
#[derive(Debug, Clone)]
pub struct ScrapeRequest {
    /// The target as given.
    pub raw_target: String,
    /// Parsed.
    pub target: SnmpTarget,
    /// Module names, de-duplicated, in request order.
    pub modules: Vec<String>,
    /// The auth name used for split-format modules.
    pub auth: String,
    /// `snmp_context`.
    pub context: Option<String>,
    /// `snmp_engineid`, decoded.
    pub engine_id: Option<Vec<u8>>,
    /// `snmp_debug_packets=true`.
    pub debug_packets: bool,
}

/// Validates the query against `config` (spec §2.2).
pub fn parse_request(config: &Config, query: Option<&str>) -> Result<ScrapeRequest, BadRequest> {
    let params = QueryParams::parse(query);
    let targets: Vec<&str> = params.all("target").collect();
    if targets.len() != 1 || targets[0].is_empty() {
        return Err(BadRequest::new("'target' parameter must be specified once"));
    }
    let raw_target = targets[0].to_owned();
    let target = parse_target(&raw_target)
        .map_err(|reason| BadRequest::new(format!("invalid target '{raw_target}': {reason}")))?;

    let given: Vec<&str> = params.all("module").collect();
    let mut modules: Vec<String> = Vec::new();
    for name in given.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if !name.is_empty() && !modules.iter().any(|m| m == name) {
            modules.push(name.to_owned());
        }
    }
    if modules.is_empty() {
        if !given.is_empty() {
            return Err(BadRequest::new(
                "'module' parameter must contain at least one module name",
            ));
        }
        modules.push("if_mib".to_owned());
    }
    for name in &modules {
        if !config.modules.contains_key(name) {
            return Err(BadRequest::new(format!("Unknown module '{name}'")));
        }
    }
    let single = |name: &str, message: &str| -> Result<Option<String>, BadRequest> {
        let values: Vec<&str> = params.all(name).collect();
        match values.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some((*one).to_owned())),
            _ => Err(BadRequest::new(message)),
        }
    };
    let auth = single("auth", "'auth' parameter must only be specified once")?
        .unwrap_or_else(|| "public_v2".to_owned());
    let context = single(
        "snmp_context",
        "'snmp_context' parameter must only be specified once",
    )?;
    let engine_id_text = single(
        "snmp_engineid",
        "'snmp_engineid' parameter must only be specified once",
    )?;
    let engine_id = engine_id_text
        .as_deref()
        .map(|hex| {
            decode_hex(hex).ok_or_else(|| BadRequest::new(format!("invalid snmp_engineid '{hex}'")))
        })
        .transpose()?;
    let debug_packets = params
        .all("snmp_debug_packets")
        .any(|v| v.eq_ignore_ascii_case("true"));

    let uses_split = modules
        .iter()
        .any(|m| config.modules[m].flat_auth.is_none());
    if uses_split {
        let Some(found) = config.auths.get(&auth) else {
            tracing::debug!(auth = %auth, known = ?config.auths.keys().collect::<Vec<_>>(), "unknown auth");
            return Err(BadRequest::new(format!("Unknown auth '{auth}'")));
        };
        if !found.allowlist.is_empty() && !found.allowlist.allows(&target.target, DEFAULT_PORT) {
            return Err(BadRequest {
                status: StatusCode::FORBIDDEN,
                message: format!("target '{raw_target}' is not allowed for auth '{auth}'"),
            });
        }
    } else if params.all("auth").next().is_some() {
        tracing::debug!(auth = %auth, "auth parameter ignored: every requested module carries its own auth");
    }
    if engine_id.is_some() {
        let uses_v3 = modules.iter().any(|m| {
            let module = &config.modules[m];
            let auth = module
                .flat_auth
                .as_ref()
                .or_else(|| config.auths.get(&auth));
            auth.is_some_and(|a| a.version == crate::config::Version::V3)
        });
        if !uses_v3 {
            tracing::debug!(
                "snmp_engineid ignored: it only applies to SNMPv3 and no requested module uses v3"
            );
        }
    }
    for name in &modules {
        let module = &config.modules[name];
        if let Some(flat) = &module.flat_auth
            && !flat.allowlist.is_empty()
            && !flat.allowlist.allows(&target.target, DEFAULT_PORT)
        {
            return Err(BadRequest {
                status: StatusCode::FORBIDDEN,
                message: format!("target '{raw_target}' is not allowed for module '{name}'"),
            });
        }
        if !module.allowlist.is_empty() && !module.allowlist.allows(&target.target, DEFAULT_PORT) {
            return Err(BadRequest {
                status: StatusCode::FORBIDDEN,
                message: format!("target '{raw_target}' is not allowed for module '{name}'"),
            });
        }
    }
    Ok(ScrapeRequest {
        raw_target,
        target,
        modules,
        auth,
        context,
        engine_id,
        debug_packets,
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `GET /snmp`.
pub async fn snmp(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let config = state.config();
    let request = match parse_request(&config, query.as_deref()) {
        Ok(request) => request,
        Err(refused) => {
            state.metrics.request_errors.inc(&[]);
            return refused.into_response();
        }
    };
    // A client that goes away drops this future mid-scrape (which is what stops the SNMP work);
    // the guard still takes the request off the gauge.
    let _in_flight = InFlight::enter(state.metrics.in_flight.clone());
    let body = scrape(&state, &config, &request, &headers).await;
    text_response(body, &headers)
}

/// One request on `snmp_request_in_flight`, for as long as it lives.
struct InFlight(Arc<portkey_kit::metrics::ValueFamily>);

impl InFlight {
    fn enter(gauge: Arc<portkey_kit::metrics::ValueFamily>) -> InFlight {
        gauge.add(&[], 1.0);
        InFlight(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.add(&[], -1.0);
    }
}

fn text_response(body: String, headers: &HeaderMap) -> Response {
    let mut builder = Response::builder().status(StatusCode::OK).header(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    let bytes = if portkey_kit::respond::accepts_gzip(headers) {
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        let _ = gz.write_all(body.as_bytes());
        match gz.finish() {
            Ok(compressed) => {
                builder = builder.header(header::CONTENT_ENCODING, "gzip");
                compressed
            }
            Err(_) => body.into_bytes(),
        }
    } else {
        body.into_bytes()
    };
    builder
        .body(Body::from(bytes))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Which credentials a module uses in this request.
fn auth_for<'a>(
    config: &'a Config,
    module: &'a Module,
    request: &ScrapeRequest,
) -> (&'a Auth, String) {
    match &module.flat_auth {
        Some(auth) => (auth, format!("module:{}", module_name(config, module))),
        None => (
            &config.auths[&request.auth],
            format!("auth:{}", request.auth),
        ),
    }
}

fn module_name<'a>(config: &'a Config, module: &Module) -> &'a str {
    config
        .modules
        .iter()
        .find(|(_, m)| std::ptr::eq(*m, module))
        .map_or("", |(n, _)| n.as_str())
}

/// Runs one scrape and renders the exposition text.
pub async fn scrape(
    state: &AppState,
    config: &Config,
    request: &ScrapeRequest,
    headers: &HeaderMap,
) -> String {
    let started = Instant::now();
    let deadline = state.deadline.deadline(headers);
    let modules: Vec<(&str, &Module)> = request
        .modules
        .iter()
        .map(|n| (n.as_str(), &config.modules[n]))
        .collect();

    // One session per distinct set of credentials.
    let mut session_keys: Vec<String> = Vec::new();
    let mut session_params: Vec<SessionParams> = Vec::new();
    let mut planned = Vec::new();
    for (index, (_, module)) in modules.iter().enumerate() {
        let (auth, key) = auth_for(config, module, request);
        let session = match session_keys.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                session_keys.push(key);
                session_params.push(SessionParams {
                    host: request.target.host.clone(),
                    port: request.target.port,
                    transport: request.target.transport,
                    auth: auth.clone(),
                    context_name: request
                        .context
                        .clone()
                        .unwrap_or_else(|| auth.context_name.clone()),
                    context_engine_id: request.engine_id.clone(),
                    unconnected: module.use_unconnected_udp_socket,
                    open_timeout: deadline.remaining(),
                });
                session_params.len() - 1
            }
        };
        planned.push((index, *module, session, auth.version));
    }

    let mut sessions: Vec<Box<dyn Session>> = Vec::with_capacity(session_params.len());
    let mut open_errors: Vec<Option<ClientError>> = Vec::with_capacity(session_params.len());
    for params in &session_params {
        match state.connector.open(params).await {
            Ok(session) => {
                sessions.push(session);
                open_errors.push(None);
            }
            Err(error) => {
                tracing::warn!(target = %request.raw_target, %error, "cannot open SNMP session");
                sessions.push(Box::new(FailedSession(error.clone())));
                open_errors.push(Some(error));
            }
        }
    }
    let concurrency = modules
        .iter()
        .filter_map(|(_, m)| m.walk_concurrency)
        .min()
        .map_or(state.walk_concurrency, |n| n as usize);
    let limit_key = format!(
        "{:?}/{}/{}",
        request.target.transport, request.target.host, request.target.port
    );
    let runner = Runner {
        sessions: &sessions,
        deadline,
        target_limit: state.limits.get(&limit_key),
        debug_packets: request.debug_packets || state.debug_packets,
        started,
        target: &request.raw_target,
        packet_times: std::sync::Mutex::new(Vec::new()),
    };
    // Dynamic filters first: their column walks decide what the modules fetch (crate::filter).
    let entries: Vec<collect::PlanEntry<'_>> = planned
        .iter()
        .map(|(index, module, session, version)| {
            collect::PlanEntry::new(*index, module, *session, *version)
        })
        .collect();
    let filter_items = collect::plan_filters(&entries);
    let mut outcomes = if filter_items.is_empty() {
        Vec::new()
    } else {
        collect::run(&runner, filter_items.clone(), concurrency).await
    };
    let selections: Vec<Selection> = entries
        .iter()
        .map(|entry| select(entry, &outcomes, &request.raw_target))
        .collect();
    let entries: Vec<collect::PlanEntry<'_>> = entries
        .into_iter()
        .zip(&selections)
        .map(|(mut entry, selection)| {
            if !selection.is_empty() {
                let (walk, get) = selection.rewrite(&entry.walk, &entry.get);
                entry.walk = walk.into();
                entry.get = get.into();
            }
            entry
        })
        .collect();
    let items = collect::plan(&entries, &filter_items);
    outcomes.extend(collect::run(&runner, items, concurrency).await);
    for rtt in runner
        .packet_times
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        state
            .metrics
            .packet_duration
            .observe(&[], rtt.as_secs_f64());
    }
    let walk_done = started.elapsed();
    let pdus = collect::merge(&outcomes);
    let failed_roots: Vec<crate::oid::Oid> = outcomes
        .iter()
        .filter(|o| o.failure.is_some())
        .filter_map(|o| match &o.item.work {
            collect::Work::Walk(root) => Some(root.clone()),
            collect::Work::Get(_) | collect::Work::Filter(_) => None,
        })
        .collect();

    let options = RenderOptions {
        wrap_large_counters: state.wrap_large_counters,
    };
    let mut families = Families::default();
    let mut rendered: Vec<(&crate::config::Metric, &Selection)> = Vec::new();
    let mut per_module_duplicates = Vec::with_capacity(modules.len());
    for ((_, module), selection) in modules.iter().zip(&selections) {
        // A metric defined identically in an earlier requested module (sysUpTime in if_mib and
        // system) is one series, not a duplicate — unless filters gave the two different rows.
        let skip: HashSet<usize> = module
            .metrics
            .iter()
            .enumerate()
            .filter(|(_, m)| rendered.contains(&(*m, selection)))
            .map(|(i, _)| i)
            .collect();
        let before = families.stats.duplicates;
        let filtered;
        let view = if selection.is_empty() {
            &pdus
        } else {
            filtered = selection.apply(&pdus);
            &filtered
        };
        render_module(module, view, &failed_roots, options, &skip, &mut families);
        per_module_duplicates.push(families.stats.duplicates - before);
        rendered.extend(module.metrics.iter().map(|m| (m, selection)));
    }

    // Accounting: packets the walk loop sent, plus session-level extras (v3 discovery, re-sync)
    // credited to the first module using that session.
    let mut pdus_by_module = vec![0u64; modules.len()];
    let mut packets_by_module = vec![0u64; modules.len()];
    let mut retried_by_module = vec![0u64; modules.len()];
    let mut attempts_by_session = vec![0u64; sessions.len()];
    let mut answered = false;
    for outcome in &outcomes {
        let m = outcome.item.module;
        if !matches!(outcome.item.work, collect::Work::Filter(_)) {
            // Filter columns only select rows; upstream does not count them as returned PDUs.
            pdus_by_module[m] += outcome.pdus;
        }
        if open_errors[outcome.item.session].is_none() {
            // A session that could not be opened (e.g. the name did not resolve) sent nothing.
            packets_by_module[m] += outcome.packets;
            retried_by_module[m] += outcome.retried;
            attempts_by_session[outcome.item.session] += outcome.packets;
        }
        answered |= outcome.answered;
        if let Some(failure) = &outcome.failure {
            state
                .metrics
                .walk_failures
                .inc(&[request.modules[m].as_str(), failure.reason()]);
            log_failure(request, &outcome.item.collector(), failure);
        }
    }
    for (session_index, session) in sessions.iter().enumerate() {
        let extra = session
            .datagrams_sent()
            .saturating_sub(attempts_by_session[session_index]);
        if let Some((m, _)) = planned
            .iter()
            .find(|(_, _, s, _)| *s == session_index)
            .map(|(i, ..)| (*i, ()))
        {
            packets_by_module[m] += extra;
        }
    }
    let multi = modules.len() > 1;
    let total_elapsed = started.elapsed();
    for (i, (name, _)) in modules.iter().enumerate() {
        let module_label = |mut labels: Vec<(String, String)>| {
            if multi {
                labels.push(("module".to_owned(), (*name).to_owned()));
            }
            labels
        };
        let scalar = |families: &mut Families, family: &str, help: &str, value: f64| {
            families.push(
                family,
                help,
                FamilyType::Gauge,
                module_label(Vec::new()),
                value,
            );
        };
        scalar(
            &mut families,
            "snmp_scrape_walk_duration_seconds",
            "Time SNMP walk/bulkwalk took.",
            walk_done.as_secs_f64(),
        );
        scalar(
            &mut families,
            "snmp_scrape_duration_seconds",
            "Total SNMP time scrape took (walk and processing).",
            total_elapsed.as_secs_f64(),
        );
        scalar(
            &mut families,
            "snmp_scrape_pdus_returned",
            "PDUs returned from get, bulkget, and walk.",
            pdus_by_module[i] as f64,
        );
        scalar(
            &mut families,
            "snmp_scrape_packets_sent",
            "Packets sent for get, bulkget, and walk; including retries.",
            packets_by_module[i] as f64,
        );
        scalar(
            &mut families,
            "snmp_scrape_packets_retried",
            "Packets retried for get, bulkget, and walk.",
            retried_by_module[i] as f64,
        );
        state
            .metrics
            .duplicates
            .add(&[name], per_module_duplicates[i] as f64);
        state
            .metrics
            .collection_duration
            .observe(&[name], total_elapsed.as_secs_f64());
    }
    for outcome in &outcomes {
        let labels = |extra: Vec<(String, String)>| {
            let mut labels = vec![("collector".to_owned(), outcome.item.collector())];
            labels.extend(extra);
            if multi {
                labels.push((
                    "module".to_owned(),
                    request.modules[outcome.item.module].clone(),
                ));
            }
            labels
        };
        families.push(
            "snmp_scrape_collector_success",
            portkey_kit::collector::SUCCESS_HELP,
            FamilyType::Gauge,
            labels(Vec::new()),
            if outcome.failure.is_none() { 1.0 } else { 0.0 },
        );
        families.push(
            "snmp_scrape_collector_duration_seconds",
            portkey_kit::collector::DURATION_HELP,
            FamilyType::Gauge,
            labels(Vec::new()),
            outcome.duration.as_secs_f64(),
        );
    }
    families.push(
        "snmp_up",
        UP_HELP,
        FamilyType::Gauge,
        Vec::new(),
        if answered { 1.0 } else { 0.0 },
    );
    if !answered && open_errors.iter().all(Option::is_none) {
        if session_params
            .iter()
            .any(|p| p.auth.version == crate::config::Version::V3)
        {
            // net-snmp drops v3 requests it cannot decrypt or whose context it does not know,
            // without a Report.
            tracing::warn!(
                target = %request.raw_target,
                "no response: check ACL, port, priv_password and priv_protocol, context name"
            );
        } else {
            tracing::warn!(target = %request.raw_target, "no response: check community, ACL, port");
        }
    }

    let total_packets: u64 = packets_by_module.iter().sum();
    let total_retried: u64 = retried_by_module.iter().sum();
    state.metrics.packets.add(&[], total_packets as f64);
    state.metrics.retries.add(&[], total_retried as f64);
    let (mut list, stats) = families.into_vec();
    state
        .metrics
        .unexpected_pdu_types
        .add(&[], stats.unexpected_types as f64);
    text::write(&mut list)
}

/// The rows `entry`'s filters select, from the filter walks in `outcomes`. A filter whose walk
/// failed restricts nothing (upstream: "won't do any filter on this oid").
fn select(
    entry: &collect::PlanEntry<'_>,
    outcomes: &[collect::Outcome],
    target: &str,
) -> Selection {
    let mut selection = Selection::default();
    for filter in entry.filters {
        let walked = outcomes.iter().find(|o| {
            o.item.session == entry.session
                && matches!(&o.item.work, collect::Work::Walk(oid) | collect::Work::Filter(oid) if *oid == filter.oid)
        });
        match walked {
            Some(outcome) if outcome.failure.is_none() => {
                let indexes = crate::filter::selected_indexes(filter, &outcome.varbinds);
                tracing::debug!(target, column = %filter.oid, selected = indexes.len(), "dynamic filter evaluated");
                selection.restrict(filter, &indexes);
            }
            _ => tracing::info!(
                target,
                column = %filter.oid,
                "filter column could not be walked; its targets are fetched unfiltered"
            ),
        }
    }
    selection
}

fn log_failure(request: &ScrapeRequest, collector: &str, failure: &Failure) {
    match failure {
        Failure::Client(ClientError::Auth(message)) => tracing::warn!(
            target = %request.raw_target,
            collector,
            reason = "auth",
            error = %message,
            "SNMPv3 authentication failed (the usm counter names the cause)"
        ),
        _ => tracing::warn!(
            target = %request.raw_target,
            collector,
            reason = failure.reason(),
            error = %failure,
            "SNMP collector failed; the rest of the scrape is kept"
        ),
    }
}

/// Stands in for a session that could not be opened, so its work fails with the open error.
struct FailedSession(ClientError);

impl Session for FailedSession {
    fn get<'a>(
        &'a self,
        _: &'a [crate::oid::Oid],
        _: std::time::Duration,
    ) -> futures_util::future::BoxFuture<'a, Result<crate::client::Response, ClientError>> {
        let error = self.0.clone();
        Box::pin(async move { Err(error) })
    }
    fn get_next<'a>(
        &'a self,
        oids: &'a [crate::oid::Oid],
        timeout: std::time::Duration,
    ) -> futures_util::future::BoxFuture<'a, Result<crate::client::Response, ClientError>> {
        self.get(oids, timeout)
    }
    fn get_bulk<'a>(
        &'a self,
        oids: &'a [crate::oid::Oid],
        _: u32,
        _: u32,
        timeout: std::time::Duration,
    ) -> futures_util::future::BoxFuture<'a, Result<crate::client::Response, ClientError>> {
        self.get(oids, timeout)
    }
    fn datagrams_sent(&self) -> u64 {
        0
    }
    fn peer(&self) -> Option<std::net::SocketAddr> {
        None
    }
}

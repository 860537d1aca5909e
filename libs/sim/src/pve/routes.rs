//! Request dispatch for the PVE simulator: auth, paths, envelope and error conventions.
//!
//! One fallback handler parses the path itself rather than registering axum routes, because
//! PVE's own conventions decide the answers to everything unusual: an unknown path is
//! `501 Method 'GET /x' not implemented`, a node that cannot be reached is `595`, a guest on
//! another node is `500 Configuration file '...' does not exist`, and errors carry their
//! message in the status line's reason phrase.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Map, Value, json};

use super::model::GuestKind;
use super::render::View;
use super::{PveState, PveVersion, auth};
use crate::rng::{Rng, hash};

/// `Content-Type` of every PVE API answer.
pub const CONTENT_TYPE_JSON: &str = "application/json;charset=UTF-8";
/// Largest request body read (login forms are tiny).
const MAX_BODY: usize = 64 * 1024;

pub(super) fn router(state: Arc<PveState>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

fn respond(status: StatusCode, reason: Option<&str>, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON));
    if let Some(reason) = reason
        && let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(reason.as_bytes())
    {
        response.extensions_mut().insert(phrase);
    }
    response
}

/// One request's context: the rendering view plus the error-body style.
struct Ctx<'a> {
    view: View<'a>,
    version: PveVersion,
    shuffle_rng: Option<Rng>,
}

impl Ctx<'_> {
    fn ok(&mut self, data: Value) -> Response {
        let body = crate::json::to_vec(&json!({ "data": data }), self.shuffle_rng.as_mut());
        respond(StatusCode::OK, None, body)
    }

    /// A PVE error: reason phrase = message; body `{"data":null}` (+ `message` on PVE 9).
    fn error(&self, status: u16, message: &str) -> Response {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = match self.version {
            PveVersion::V8 => json!({ "data": null }),
            PveVersion::V9 => json!({ "data": null, "message": format!("{message}\n") }),
        };
        respond(status, Some(message), crate::json::to_vec(&body, None))
    }

    /// `400 Parameter verification failed.` with per-parameter `errors`.
    fn bad_param(&self, param: &str, problem: &str) -> Response {
        let body = json!({ "data": null, "errors": { param: problem } });
        respond(
            StatusCode::BAD_REQUEST,
            Some("Parameter verification failed."),
            crate::json::to_vec(&body, None),
        )
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn dispatch(State(sim): State<Arc<PveState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let n = sim.requests.fetch_add(1, Ordering::Relaxed);
    let config = &sim.config;
    let offline = sim
        .offline
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let request_seed = hash(&[config.seed, n, 0x5E]);
    let mut ctx = Ctx {
        view: View {
            cluster: &sim.cluster,
            version: config.version,
            offline: &offline,
            local: &config.local_node,
            tick: if config.advance_counters { n } else { 0 },
            rng: Rng::new(request_seed),
            shuffle: config.shuffle,
        },
        version: config.version,
        shuffle_rng: config.shuffle.then(|| Rng::new(request_seed ^ 0xABCD)),
    };

    let path = parts.uri.path();
    let Some(rel) = path.strip_prefix("/api2/json") else {
        let mut response = Response::new(Body::from("404 Not Found"));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    let rel = match rel.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    let method = parts.method.clone();
    let query = parts.uri.query();

    if method == Method::POST && rel == "/access/ticket" {
        let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return login(&sim, &mut ctx, content_type, &bytes);
    }

    if let Err(reason) = auth::check(&parts.headers, &config.credentials, &sim.tickets) {
        return ctx.error(401, &reason);
    }

    let segments: Vec<&str> = rel.trim_start_matches('/').split('/').collect();
    let not_implemented =
        |ctx: &Ctx<'_>| ctx.error(501, &format!("Method '{method} {rel}' not implemented"));
    if method != Method::GET {
        return not_implemented(&ctx);
    }
    match segments.as_slice() {
        ["version"] => {
            let data = ctx.view.version();
            ctx.ok(data)
        }
        ["cluster", "status"] => {
            let data = ctx.view.cluster_status();
            ctx.ok(data)
        }
        ["cluster", "resources"] => {
            let filter = query_param(query, "type");
            match filter.as_deref() {
                None | Some("vm" | "storage" | "node" | "sdn") => {
                    let data = ctx.view.cluster_resources(filter.as_deref());
                    ctx.ok(data)
                }
                Some(other) => ctx.bad_param(
                    "type",
                    &format!(
                        "value '{other}' does not have a value in the enumeration 'vm, storage, node, sdn'"
                    ),
                ),
            }
        }
        ["cluster", "backup-info", "not-backed-up"] => {
            let data = ctx.view.not_backed_up();
            ctx.ok(data)
        }
        ["cluster", "config", "qdevice"] => {
            let data = ctx.view.qdevice();
            ctx.ok(data)
        }
        ["cluster", "replication"] => {
            let data = ctx.view.cluster_replication();
            ctx.ok(data)
        }
        ["nodes"] => {
            let data = ctx.view.nodes();
            ctx.ok(data)
        }
        ["nodes", node, rest @ ..] => node_request(&mut ctx, node, rest, &method, rel),
        _ => not_implemented(&ctx),
    }
}

/// `/nodes/<node>/...`, proxied by pveproxy to `<node>` in a real cluster.
fn node_request(
    ctx: &mut Ctx<'_>,
    node_name: &str,
    rest: &[&str],
    method: &Method,
    rel: &str,
) -> Response {
    let cluster = ctx.view.cluster;
    let Some(node) = cluster.node(node_name) else {
        return ctx.error(
            500,
            &format!(
                "hostname lookup '{node_name}' failed - failed to get address info for: {node_name}: Name or service not known"
            ),
        );
    };
    if ctx.view.offline.contains(node_name) {
        return ctx.error(595, "No route to host");
    }
    match rest {
        [] => {
            let data = Value::Array(
                [
                    "apt",
                    "ceph",
                    "disks",
                    "lxc",
                    "network",
                    "qemu",
                    "replication",
                    "status",
                    "storage",
                    "subscription",
                    "tasks",
                    "version",
                ]
                .iter()
                .map(|name| json!({ "name": name }))
                .collect(),
            );
            ctx.ok(data)
        }
        ["version"] => {
            let data = ctx.view.version();
            ctx.ok(data)
        }
        ["subscription"] => {
            let data = ctx.view.subscription(node);
            ctx.ok(data)
        }
        ["qemu"] => {
            let data = ctx.view.guest_list(node_name, GuestKind::Qemu);
            ctx.ok(data)
        }
        ["lxc"] => {
            let data = ctx.view.guest_list(node_name, GuestKind::Lxc);
            ctx.ok(data)
        }
        [kind @ ("qemu" | "lxc"), vmid, "config"] => {
            let kind = if *kind == "qemu" {
                GuestKind::Qemu
            } else {
                GuestKind::Lxc
            };
            let Ok(vmid) = vmid.parse::<u32>() else {
                return ctx.bad_param(
                    "vmid",
                    &format!("type check ('integer') failed - got '{vmid}'"),
                );
            };
            match cluster
                .guest(vmid)
                .filter(|g| g.node == node_name && g.kind == kind)
            {
                Some(guest) => {
                    let data = ctx.view.guest_config(guest);
                    ctx.ok(data)
                }
                None => {
                    let dir = match kind {
                        GuestKind::Qemu => "qemu-server",
                        GuestKind::Lxc => "lxc",
                    };
                    ctx.error(
                        500,
                        &format!("Configuration file 'nodes/{node_name}/{dir}/{vmid}.conf' does not exist"),
                    )
                }
            }
        }
        ["replication"] => {
            let data = ctx.view.node_replication(node_name);
            ctx.ok(data)
        }
        ["replication", id, "status"] => {
            match cluster.replication_on(node_name).find(|j| j.id() == *id) {
                Some(job) => {
                    let data = ctx.view.replication_job(job);
                    ctx.ok(data)
                }
                None => ctx.error(500, &format!("no such replication job '{id}'")),
            }
        }
        _ => ctx.error(501, &format!("Method '{method} {rel}' not implemented")),
    }
}

/// `POST /access/ticket` with form (or JSON) fields `username`, `password`, optional `realm`.
fn login(sim: &PveState, ctx: &mut Ctx<'_>, content_type: &str, body: &[u8]) -> Response {
    let mut fields: Map<String, Value> = Map::new();
    if content_type.starts_with("application/json") {
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
            fields = map;
        }
    } else {
        for (k, v) in form_urlencoded::parse(body) {
            fields.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    let field = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
    let Some(username) = field("username") else {
        return ctx.bad_param("username", "property is missing and it is not optional");
    };
    let Some(password) = field("password") else {
        return ctx.bad_param("password", "property is missing and it is not optional");
    };
    let realm = field("realm");
    match auth::login(
        &username,
        &password,
        realm.as_deref(),
        &sim.config.credentials,
    ) {
        Ok(user) => {
            let issued = sim.tickets.issue(&user, sim.config.seed);
            let mut data = json!({
                "username": user,
                "ticket": issued.ticket,
                "CSRFPreventionToken": issued.csrf,
                "cap": {
                    "nodes": {"Sys.Audit": 1},
                    "vms": {"VM.Audit": 1},
                    "storage": {"Datastore.Audit": 1},
                    "access": {},
                    "dc": {"Sys.Audit": 1},
                },
            });
            if !sim.cluster.standalone {
                data["clustername"] = json!(sim.cluster.name);
            }
            ctx.ok(data)
        }
        Err(reason) => ctx.error(401, &reason),
    }
}

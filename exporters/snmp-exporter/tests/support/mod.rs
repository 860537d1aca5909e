//! Test harness: a real net-snmp `snmpd` on 127.0.0.1, an in-process exporter, and a fake agent
//! behind the [`Session`] trait fed from the recorded walk in `fixtures/loopback.walk`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use portkey_kit::server::{Readiness, Server};
use snmp_exporter::app::{self, AppState};
use snmp_exporter::cli;
use snmp_exporter::client::{
    ClientError, Connector, Response, Session, SessionParams, Value, VarBind,
};
use snmp_exporter::config::{self, Config, LoadOptions};
use snmp_exporter::oid::Oid;
use snmp_exporter::snmp::AsyncSnmpConnector;
use tokio::sync::oneshot;

/// The tool's path under the workspace rule: skip loudly, or fail with PORTKEY_REQUIRE_TOOLS=1.
pub fn tool(name: &str) -> Option<PathBuf> {
    portkey_sim::tools::find_tool(name)
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free UDP port")
}

/// A net-snmp agent on 127.0.0.1 with its own config, stopped on drop.
pub struct Snmpd {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Read-only community `public`, write community `labrw`, v3 authPriv user `labuser`.
pub const SNMPD_CONF: &str = "rocommunity public 127.0.0.1\nrwcommunity labrw 127.0.0.1\ncreateUser labuser SHA labauthpass AES labprivpass\nrouser labuser priv\n";

impl Snmpd {
    /// Starts snmpd, or `None` when it is not installed (see [`tool`]).
    pub fn start() -> Option<Snmpd> {
        Snmpd::start_with("")
    }

    /// Same with extra snmpd.conf lines; `{port}` in them becomes the agent's port.
    pub fn start_with(extra: &str) -> Option<Snmpd> {
        tool("snmpd")?;
        tool("snmpget")?;
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_udp_port();
        let conf = dir.path().join("snmpd.conf");
        std::fs::write(
            &conf,
            format!(
                "agentAddress udp:127.0.0.1:{port}\n{SNMPD_CONF}{}\n",
                extra.replace("{port}", &port.to_string())
            ),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("persist")).unwrap();
        let child = Snmpd::spawn(dir.path());
        let mut agent = Snmpd { child, port, dir };
        agent.wait_ready();
        Some(agent)
    }

    fn spawn(dir: &std::path::Path) -> Child {
        let persist = dir.join("persist");
        // `-C` also skips the persistent file where the agent keeps its engine ID and boots
        // (written on SIGTERM); name it explicitly once it exists, so restarts keep them.
        let mut files = dir.join("snmpd.conf").display().to_string();
        let saved = persist.join("snmpd.conf");
        if saved.exists() {
            files = format!("{files},{}", saved.display());
        }
        let mut command = Command::new(tool("snmpd").expect("snmpd"));
        command
            .args(["-f", "-C", "-c", &files])
            .arg("-Lf")
            .arg(dir.join("snmpd.log"))
            .args(["-I", "-smux,mteTrigger,mteTriggerConf"])
            .env("SNMP_PERSISTENT_DIR", &persist)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if is_root() {
            // The agent drops root after binding, as it is meant to run.
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777));
            let _ = std::fs::set_permissions(&persist, std::fs::Permissions::from_mode(0o777));
            command.args(["-u", "nobody"]);
        }
        command.spawn().expect("snmpd starts")
    }

    fn wait_ready(&mut self) {
        for _ in 0..100 {
            if self.snmpget("1.3.6.1.2.1.1.3.0").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("snmpd did not answer on 127.0.0.1:{}", self.port);
    }

    /// Stops the agent and starts it again on the same port. With `new_engine`, its persistent
    /// state goes first, so it comes back with a new engine ID; otherwise it keeps its engine ID
    /// and counts one more engine boot (engine time restarts at 0).
    pub fn restart(&mut self, new_engine: bool) {
        // SIGTERM, not SIGKILL: the agent saves its engine ID and boots on the way out.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let persist = self.dir.path().join("persist");
        if new_engine {
            std::fs::remove_dir_all(&persist).unwrap();
            std::fs::create_dir(&persist).unwrap();
        }
        self.child = Snmpd::spawn(self.dir.path());
        self.wait_ready();
    }

    /// The agent's snmpEngineID and snmpEngineBoots, read over v2c.
    pub fn engine(&self) -> (String, String) {
        let id = self
            .snmpget("1.3.6.1.6.3.10.2.1.1.0")
            .expect("snmpEngineID");
        let boots = self
            .snmpget("1.3.6.1.6.3.10.2.1.2.0")
            .expect("snmpEngineBoots");
        let value = |line: String| line.split_once(" = ").map(|(_, v)| v.trim().to_owned());
        (value(id).unwrap(), value(boots).unwrap())
    }

    /// `127.0.0.1:<port>`.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn snmpget(&self, oid: &str) -> Option<String> {
        let output = Command::new(tool("snmpget")?)
            .args([
                "-v2c",
                "-c",
                "public",
                "-t",
                "0.2",
                "-r",
                "0",
                "-On",
                &self.target(),
                oid,
            ])
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Sets ifAlias of `if_index` to the raw bytes `value` with the write community.
    pub fn set_alias(&self, if_index: u32, value: &[u8]) {
        let hex: String = value.iter().map(|b| format!("{b:02X}")).collect();
        let status = Command::new(tool("snmpset").expect("snmpset"))
            .args(["-v2c", "-c", "labrw", "-t", "1", "-r", "1", &self.target()])
            .arg(format!("1.3.6.1.2.1.31.1.1.1.18.{if_index}"))
            .arg("x")
            .arg(if hex.is_empty() {
                "\"\"".to_owned()
            } else {
                hex
            })
            .stdout(Stdio::null())
            .status()
            .expect("snmpset runs");
        assert!(status.success(), "snmpset of ifAlias failed");
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// An in-process exporter on 127.0.0.1.
pub struct Exporter {
    pub url: String,
    pub state: Arc<AppState>,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Exporter {
    /// An exporter over the real SNMP connector with `yaml` (None: embedded default) and `flags`.
    pub async fn start(yaml: Option<&str>, flags: &[&str]) -> Exporter {
        let connector = Arc::new(AsyncSnmpConnector::new(Some("127.0.0.1".to_owned())));
        Self::start_with(yaml, flags, connector).await
    }

    /// Same with any connector (the fake agent).
    pub async fn start_with(
        yaml: Option<&str>,
        flags: &[&str],
        connector: Arc<dyn Connector>,
    ) -> Exporter {
        let mut args = vec!["snmp-exporter"];
        args.extend_from_slice(flags);
        let cli = cli::try_parse_from(args).expect("flags parse");
        let config: Config = match yaml {
            Some(yaml) => {
                config::parse_files(&[("test.yml", yaml)], &LoadOptions::default(), &|_| None)
                    .expect("valid config")
            }
            None => app::load_config(&cli).expect("config loads"),
        };
        portkey_kit::crypto::install();
        let state = AppState::new(&cli, config, connector);
        let server = Server::bind(&["127.0.0.1:0".to_owned()], None)
            .await
            .unwrap();
        let addr = server.local_addrs()[0];
        let readiness = Readiness::default();
        readiness.set_ready();
        let router = app::router(state.clone(), "/metrics", 40, readiness);
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(server.serve(router, async move {
            let _ = rx.await;
        }));
        Exporter {
            url: format!("http://{addr}"),
            state,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            stop: Some(tx),
        }
    }

    /// `GET <path>` → (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        self.get_with(path, &[]).await
    }

    /// `GET <path>` with headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self.http.get(format!("{}{path}", self.url));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.expect("exporter answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

/// The value of `series` (name and labels exactly as printed).
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        match rest {
            "+Inf" => Some(f64::INFINITY),
            other => other.parse().ok(),
        }
    })
}

/// Sample lines of `family`.
pub fn samples<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .collect()
}

/// Parses `fixtures/loopback.walk` (net-snmp `-On -Ox -Oe` output).
pub fn recorded_walk() -> BTreeMap<Oid, Value> {
    let text = include_str!("../fixtures/loopback.walk");
    let mut map = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (oid, rest) = line.split_once(" = ").expect("oid = value");
        let oid = Oid::parse(oid).expect("numeric oid");
        let value = if rest == "\"\"" {
            Value::OctetString(Vec::new())
        } else {
            let (kind, raw) = rest.split_once(": ").unwrap_or((rest, ""));
            match kind {
                "INTEGER" => Value::Integer(raw.trim().parse().unwrap()),
                "Counter32" => Value::Counter32(raw.trim().parse().unwrap()),
                "Gauge32" => Value::Gauge32(raw.trim().parse().unwrap()),
                "Counter64" => Value::Counter64(raw.trim().parse().unwrap()),
                "Timeticks" => Value::TimeTicks(
                    raw.trim_start_matches('(')
                        .split(')')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap(),
                ),
                "OID" => Value::ObjectIdentifier(Oid::parse(raw.trim()).unwrap()),
                "Hex-STRING" => Value::OctetString(
                    raw.split_whitespace()
                        .map(|b| u8::from_str_radix(b, 16).unwrap())
                        .collect(),
                ),
                "STRING" => Value::OctetString(raw.trim_matches('"').as_bytes().to_vec()),
                other => panic!("unexpected type {other} in fixture"),
            }
        };
        map.insert(oid, value);
    }
    map
}

/// A scripted agent behind the Session trait: answers from a map, can stop answering inside a
/// subtree, adds latency, and records how many requests overlapped.
#[derive(Debug, Default)]
pub struct FakeAgent {
    pub data: BTreeMap<Oid, Value>,
    /// Requests whose OID lies under this prefix time out.
    pub silent_under: Mutex<Option<(Oid, usize)>>,
    /// One GETNEXT/GETBULK from an OID strictly under this prefix answers with the requested OID
    /// itself (a broken agent), after this many normal answers there.
    pub repeat_under: Mutex<Option<(Oid, usize)>>,
    /// GETBULK asking for more repetitions than this answers error-status tooBig.
    pub too_big_above: Option<u32>,
    pub latency: Duration,
    pub in_flight: AtomicUsize,
    pub peak: AtomicUsize,
    pub requests: AtomicU64,
    /// Largest max-repetitions that got an answer.
    pub answered_repetitions: Mutex<Vec<u32>>,
}

impl FakeAgent {
    pub fn new(data: BTreeMap<Oid, Value>) -> FakeAgent {
        FakeAgent {
            data,
            ..FakeAgent::default()
        }
    }

    /// Answers normally for `after` requests under `prefix`, then stays silent there.
    pub fn go_silent_under(&self, prefix: &str, after: usize) {
        *self.silent_under.lock().unwrap() = Some((Oid::parse(prefix).unwrap(), after));
    }

    /// Answers one GETNEXT/GETBULK under `prefix` with the requested OID, after `after` normal
    /// ones.
    pub fn repeat_requested_under(&self, prefix: &str, after: usize) {
        *self.repeat_under.lock().unwrap() = Some((Oid::parse(prefix).unwrap(), after));
    }

    fn repeats(&self, oid: &Oid) -> bool {
        let mut guard = self.repeat_under.lock().unwrap();
        match guard.as_mut() {
            Some((prefix, after)) if oid.is_strictly_under(prefix) => {
                if *after == 0 {
                    *guard = None;
                    true
                } else {
                    *after -= 1;
                    false
                }
            }
            _ => false,
        }
    }

    fn silent(&self, oid: &Oid) -> bool {
        let mut guard = self.silent_under.lock().unwrap();
        match guard.as_mut() {
            Some((prefix, after)) if oid.starts_with(prefix) => {
                if *after == 0 {
                    true
                } else {
                    *after -= 1;
                    false
                }
            }
            _ => false,
        }
    }

    async fn answer(
        &self,
        oids: &[Oid],
        next: bool,
        count: usize,
        timeout: Duration,
    ) -> Result<Response, ClientError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.latency).await;
        let silent = oids.iter().any(|o| self.silent(o));
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if silent {
            tokio::time::sleep(timeout).await;
            return Err(ClientError::Timeout);
        }
        let mut varbinds = Vec::new();
        for oid in oids {
            if next && self.repeats(oid) {
                varbinds.push(VarBind {
                    oid: oid.clone(),
                    value: Value::Integer(0),
                });
                continue;
            }
            if next {
                let mut from = oid.clone();
                for _ in 0..count {
                    let found = self
                        .data
                        .range((
                            std::ops::Bound::Excluded(from.clone()),
                            std::ops::Bound::Unbounded,
                        ))
                        .next();
                    match found {
                        Some((o, v)) => {
                            varbinds.push(VarBind {
                                oid: o.clone(),
                                value: v.clone(),
                            });
                            from = o.clone();
                        }
                        None => {
                            varbinds.push(VarBind {
                                oid: from.clone(),
                                value: Value::EndOfMibView,
                            });
                            break;
                        }
                    }
                }
            } else {
                let value = self.data.get(oid).cloned().unwrap_or(Value::NoSuchInstance);
                varbinds.push(VarBind {
                    oid: oid.clone(),
                    value,
                });
            }
        }
        Ok(Response {
            error_status: 0,
            error_index: 0,
            varbinds,
        })
    }
}

/// Connector handing out sessions on one [`FakeAgent`].
#[derive(Debug, Clone)]
pub struct FakeConnector(pub Arc<FakeAgent>);

struct FakeSession(Arc<FakeAgent>, AtomicU64);

impl Session for FakeSession {
    fn get<'a>(
        &'a self,
        oids: &'a [Oid],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, ClientError>> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.answer(oids, false, 1, timeout).boxed()
    }
    fn get_next<'a>(
        &'a self,
        oids: &'a [Oid],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, ClientError>> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.answer(oids, true, 1, timeout).boxed()
    }
    fn get_bulk<'a>(
        &'a self,
        oids: &'a [Oid],
        _non_repeaters: u32,
        max_repetitions: u32,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, ClientError>> {
        self.1.fetch_add(1, Ordering::SeqCst);
        let agent = &self.0;
        if agent
            .too_big_above
            .is_some_and(|limit| max_repetitions > limit)
        {
            agent.requests.fetch_add(1, Ordering::SeqCst);
            return async {
                Ok(Response {
                    error_status: snmp_exporter::client::TOO_BIG,
                    error_index: 0,
                    varbinds: Vec::new(),
                })
            }
            .boxed();
        }
        agent
            .answered_repetitions
            .lock()
            .unwrap()
            .push(max_repetitions);
        agent
            .answer(oids, true, max_repetitions as usize, timeout)
            .boxed()
    }
    fn datagrams_sent(&self) -> u64 {
        self.1.load(Ordering::SeqCst)
    }
    fn peer(&self) -> Option<SocketAddr> {
        None
    }
}

impl Connector for FakeConnector {
    fn open<'a>(
        &'a self,
        _params: &'a SessionParams,
    ) -> BoxFuture<'a, Result<Box<dyn Session>, ClientError>> {
        let agent = self.0.clone();
        async move { Ok(Box::new(FakeSession(agent, AtomicU64::new(0))) as Box<dyn Session>) }
            .boxed()
    }
}

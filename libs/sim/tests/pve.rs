//! The Proxmox VE simulator over HTTP: shapes of each endpoint, variants, auth, determinism.

use std::collections::{BTreeMap, BTreeSet};

use portkey_sim::pve::model::GuestStatus;
use portkey_sim::pve::{Credentials, PveSim, PveSimConfig, PveVersion};
use portkey_sim::{Fault, SimServer, TlsIdentity, install_ring_provider};
use serde_json::Value;

struct Pve {
    sim: PveSim,
    server: SimServer,
    client: reqwest::Client,
    token: String,
}

struct Answer {
    status: u16,
    reason: String,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

impl Pve {
    async fn start(config: PveSimConfig) -> Pve {
        install_ring_provider();
        let token = config.credentials.token_header();
        let sim = PveSim::new(config).unwrap();
        let server = SimServer::start(sim.router()).await.unwrap();
        Pve {
            sim,
            server,
            client: reqwest::Client::new(),
            token,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let reason = response
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .unwrap_or_else(|| {
                response
                    .status()
                    .canonical_reason()
                    .unwrap_or_default()
                    .to_owned()
            });
        Answer {
            status: response.status().as_u16(),
            reason,
            content_type: response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api2/json{path}", self.server.url())
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(
            self.client
                .get(self.url(path))
                .header("Authorization", &self.token),
        )
        .await
    }

    /// GET that must succeed; returns `data` from the envelope.
    async fn data(&self, path: &str) -> Value {
        let answer = self.get(path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.reason);
        assert_eq!(answer.content_type, "application/json;charset=UTF-8");
        let mut body = answer.json();
        let object = body.as_object_mut().expect("envelope object");
        assert_eq!(object.len(), 1, "envelope has only data");
        object.remove("data").expect("data key")
    }
}

fn of_type<'a>(resources: &'a Value, kind: &str) -> Vec<&'a Value> {
    resources
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .collect()
}

fn find<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("no entry {id}"))
}

fn keys(entry: &Value) -> BTreeSet<String> {
    entry.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn version_shapes() {
    let pve = Pve::start(PveSimConfig::default()).await;
    let v = pve.data("/version").await;
    assert_eq!(v["version"], "9.1.4");
    assert_eq!(v["release"], "9.1");
    let repoid = v["repoid"].as_str().unwrap();
    assert!((8..=64).contains(&repoid.len()));
    assert!(repoid.chars().all(|c| c.is_ascii_hexdigit()));
    let pve8 = Pve::start(PveSimConfig::default().version(PveVersion::V8)).await;
    assert!(
        pve8.data("/version").await["version"]
            .as_str()
            .unwrap()
            .starts_with("8.")
    );
}

#[tokio::test]
async fn cluster_status_shape() {
    let pve = Pve::start(PveSimConfig::default()).await;
    let status = pve.data("/cluster/status").await;
    let list = status.as_array().unwrap();
    assert_eq!(list.len(), 7);
    let cluster = &list[0];
    assert_eq!(cluster["type"], "cluster");
    assert_eq!(cluster["id"], "cluster");
    assert_eq!(cluster["name"], "middleearth");
    assert_eq!(cluster["nodes"], 6);
    assert_eq!(cluster["quorate"], 1);
    assert_eq!(cluster["version"], 17);
    let nodes = of_type(&status, "node");
    assert_eq!(nodes.len(), 6);
    let mut names = BTreeSet::new();
    for node in &nodes {
        assert_eq!(
            keys(node),
            [
                "id", "ip", "level", "local", "name", "nodeid", "online", "type"
            ]
            .map(String::from)
            .into()
        );
        assert!(node["nodeid"].is_u64());
        assert!(node["ip"].as_str().unwrap().starts_with("192.0.2."));
        assert_eq!(node["online"], 1);
        assert_eq!(
            node["id"],
            format!("node/{}", node["name"].as_str().unwrap())
        );
        names.insert(node["name"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        names,
        [
            "gondor",
            "isengard",
            "mirkwood",
            "rivendell",
            "rohan",
            "shire"
        ]
        .map(String::from)
        .into()
    );
    let local: Vec<_> = nodes.iter().filter(|n| n["local"] == 1).collect();
    assert_eq!(local.len(), 1);
    assert_eq!(local[0]["name"], "shire");
    let levels: BTreeSet<&str> = nodes.iter().map(|n| n["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["", "c", "s"].into());

    let other = Pve::start(PveSimConfig::default().local_node("rivendell")).await;
    let status = other.data("/cluster/status").await;
    let local: Vec<_> = of_type(&status, "node")
        .into_iter()
        .filter(|n| n["local"] == 1)
        .collect();
    assert_eq!(local[0]["name"], "rivendell");
}

#[tokio::test]
async fn cluster_resources_shape_pve9() {
    let pve = Pve::start(PveSimConfig::default()).await;
    let res = pve.data("/cluster/resources").await;
    let qemu = of_type(&res, "qemu");
    let lxc = of_type(&res, "lxc");
    assert_eq!((qemu.len(), lxc.len()), (40, 20));
    assert_eq!(of_type(&res, "node").len(), 6);
    assert_eq!(of_type(&res, "storage").len(), 30);
    assert_eq!(of_type(&res, "pool").len(), 2);
    assert_eq!(of_type(&res, "network").len(), 6);
    assert!(of_type(&res, "sdn").is_empty());

    let guests: Vec<&Value> = qemu.iter().chain(lxc.iter()).copied().collect();
    let count = |s: &str| guests.iter().filter(|g| g["status"] == s).count();
    assert_eq!(
        (count("running"), count("stopped"), count("unknown")),
        (52, 7, 1)
    );

    // VMs come sorted by VMID as a string.
    let vmids: Vec<String> = res
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "qemu" || e["type"] == "lxc")
        .map(|e| e["vmid"].to_string())
        .collect();
    let mut sorted = vmids.clone();
    sorted.sort();
    assert_eq!(vmids, sorted);

    let running = find(&res, "qemu/100");
    for key in [
        "uptime",
        "name",
        "template",
        "maxcpu",
        "cpu",
        "maxmem",
        "mem",
        "maxdisk",
        "disk",
        "netin",
        "netout",
        "diskread",
        "diskwrite",
        "memhost",
        "vmid",
        "node",
        "status",
    ] {
        assert!(running.get(key).is_some(), "qemu/100 lacks {key}");
    }
    assert_eq!(running["disk"], 0, "qemu disk is always 0");
    assert_eq!(running["template"], 0);
    assert!(running["cpu"].is_f64());
    assert!(running["vmid"].is_u64());
    assert_eq!(running["tags"], "prod;web");
    assert_eq!(running["pool"], "production");
    assert_eq!(running["hastate"], "started");

    // The guest without RRD data carries identity keys only (+ tags).
    let unknown = find(&res, "qemu/137");
    assert_eq!(unknown["status"], "unknown");
    assert_eq!(
        keys(unknown),
        ["id", "node", "status", "tags", "type", "vmid"]
            .map(String::from)
            .into()
    );

    let template = find(&res, "qemu/9000");
    assert_eq!(template["template"], 1);
    assert_eq!(template["status"], "stopped");
    assert_eq!(template["uptime"], 0);
    assert_eq!(template["mem"], 0);
    assert!(template["maxmem"].as_u64().unwrap() > 0);

    let hibernated = find(&res, "qemu/118");
    assert_eq!(hibernated["status"], "stopped");
    assert_eq!(hibernated["lock"], "suspended");

    let locks: Vec<&str> = guests.iter().filter_map(|g| g["lock"].as_str()).collect();
    let mut locks_sorted = locks.clone();
    locks_sorted.sort();
    assert_eq!(
        locks_sorted,
        vec!["backup", "backup", "migrate", "snapshot", "suspended"]
    );
    let ha: BTreeMap<&str, usize> =
        guests
            .iter()
            .filter_map(|g| g["hastate"].as_str())
            .fold(BTreeMap::new(), |mut m, s| {
                *m.entry(s).or_default() += 1;
                m
            });
    assert_eq!(
        ha,
        [
            ("error", 1),
            ("ignored", 1),
            ("migrate", 1),
            ("started", 7),
            ("stopped", 1)
        ]
        .into()
    );
    assert!(
        lxc.iter()
            .any(|g| g["maxcpu"].as_f64().unwrap().fract() != 0.0),
        "some container has a fractional CPU limit"
    );

    let node = find(&res, "node/shire");
    assert_eq!(node["status"], "online");
    assert_eq!(node["hastate"], "online");
    assert_eq!(node["host-arch"], "x86_64");
    assert_eq!(node["cgroup-mode"], 2);
    assert!(node["maxcpu"].is_u64() && node["mem"].is_u64() && node["cpu"].is_f64());

    let storage = find(&res, "storage/shire/ceph-vm");
    assert_eq!(storage["shared"], 1);
    assert_eq!(storage["plugintype"], "rbd");
    assert_eq!(storage["status"], "available");
    let content: BTreeSet<&str> = storage["content"].as_str().unwrap().split(',').collect();
    assert_eq!(content, ["images", "rootdir"].into());
    // Shared storages repeat identical numbers on every node.
    assert_eq!(
        find(&res, "storage/gondor/ceph-vm")["disk"],
        storage["disk"]
    );
    let stale = find(&res, "storage/mirkwood/nfs-backup");
    assert_eq!(stale["status"], "unknown");
    assert!(stale.get("disk").is_none() && stale.get("maxdisk").is_none());

    let pool = find(&res, "/pool/production");
    assert_eq!(pool["pool"], "production");
    assert!(pool["mem"].as_u64().unwrap() > 0);
    let network = find(&res, "network/shire/zone/localnetwork");
    assert_eq!(network["node"], "shire");
}

#[tokio::test]
async fn cluster_resources_shape_pve8_and_type_filter() {
    let pve = Pve::start(PveSimConfig::default().version(PveVersion::V8)).await;
    let res = pve.data("/cluster/resources").await;
    assert_eq!(of_type(&res, "sdn").len(), 6);
    assert!(of_type(&res, "network").is_empty());
    assert!(find(&res, "qemu/100").get("memhost").is_none());
    assert!(find(&res, "node/shire").get("host-arch").is_none());
    find(&res, "sdn/shire/localnetwork");

    let vms = pve.data("/cluster/resources?type=vm").await;
    assert_eq!(vms.as_array().unwrap().len(), 60);
    assert_eq!(
        pve.data("/cluster/resources?type=storage")
            .await
            .as_array()
            .unwrap()
            .len(),
        30
    );
    assert_eq!(
        pve.data("/cluster/resources?type=node")
            .await
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        pve.data("/cluster/resources?type=sdn")
            .await
            .as_array()
            .unwrap()
            .len(),
        6
    );
    let bad = pve.get("/cluster/resources?type=pool").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.reason, "Parameter verification failed.");
    assert!(bad.json()["errors"]["type"].is_string());
}

#[tokio::test]
async fn backup_info_qdevice_and_replication() {
    let pve = Pve::start(PveSimConfig::default()).await;
    let missing = pve.data("/cluster/backup-info/not-backed-up").await;
    let missing = missing.as_array().unwrap();
    assert_eq!(missing.len(), 6);
    let vmids: BTreeSet<u64> = missing
        .iter()
        .map(|e| e["vmid"].as_u64().unwrap())
        .collect();
    assert!(vmids.contains(&9000) && vmids.contains(&9001));
    assert!(
        missing
            .iter()
            .all(|e| e["type"] == "qemu" || e["type"] == "lxc")
    );

    let qdevice = pve.data("/cluster/config/qdevice").await;
    assert_eq!(qdevice["Model"], "Net");
    assert_eq!(qdevice["State"], "Connected");
    for key in [
        "Algorithm",
        "QNetd host",
        "Tie-breaker",
        "Echo reply",
        "Last poll call",
    ] {
        assert!(qdevice[key].is_string(), "{key}");
    }
    let without = Pve::start(PveSimConfig::default().qdevice(false)).await;
    assert_eq!(
        without.data("/cluster/config/qdevice").await,
        serde_json::json!({})
    );

    let mut total = 0;
    let mut failing = 0;
    let mut never = 0;
    let mut disabled = 0;
    for node in pve.sim.cluster().nodes.iter().map(|n| n.name.clone()) {
        let jobs = pve.data(&format!("/nodes/{node}/replication")).await;
        let jobs = jobs.as_array().unwrap();
        let ids: Vec<&str> = jobs.iter().map(|j| j["id"].as_str().unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "{node}: sorted by id");
        for job in jobs {
            assert_eq!(job["source"], node.as_str());
            assert_eq!(job["type"], "local");
            assert!(job["guest"].is_u64() && job["jobnum"].is_u64());
            assert!(job["last_sync"].is_u64() && job["fail_count"].is_u64());
            if job["fail_count"] == 2 {
                failing += 1;
                assert!(job["error"].is_string());
            }
            if job["last_sync"] == 0 {
                never += 1;
                assert!(job.get("duration").is_none());
            } else {
                assert!(job["duration"].is_number());
            }
            if job["disable"] == 1 {
                disabled += 1;
            }
        }
        total += jobs.len();
    }
    assert_eq!(total, 21);
    assert_eq!((failing, never, disabled), (6, 6, 1));
    let shire = pve.data("/nodes/shire/replication").await;
    let first = shire[0]["id"].as_str().unwrap();
    let guest = first.split('-').next().unwrap();
    assert!(
        shire
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == format!("{guest}-1")),
        "a second job for one guest on shire"
    );
    let status = pve
        .data(&format!("/nodes/shire/replication/{first}/status"))
        .await;
    assert_eq!(status["id"], first);
    let elsewhere = pve
        .get(&format!("/nodes/gondor/replication/{first}/status"))
        .await;
    assert_eq!(elsewhere.status, 500);
    assert_eq!(
        pve.data("/cluster/replication")
            .await
            .as_array()
            .unwrap()
            .len(),
        21
    );
}

#[tokio::test]
async fn subscriptions_per_node() {
    let pve = Pve::start(PveSimConfig::default()).await;
    let shire = pve.data("/nodes/shire/subscription").await;
    assert_eq!(shire["status"], "active");
    assert_eq!(shire["level"], "c");
    assert_eq!(shire["nextduedate"], "2026-09-30");
    for key in [
        "productname",
        "regdate",
        "checktime",
        "key",
        "serverid",
        "sockets",
        "url",
    ] {
        assert!(shire.get(key).is_some(), "{key}");
    }
    assert_eq!(pve.data("/nodes/mirkwood/subscription").await["level"], "s");
    let isengard = pve.data("/nodes/isengard/subscription").await;
    assert_eq!(isengard["status"], "expired");
    let gondor = pve.data("/nodes/gondor/subscription").await;
    assert_eq!(gondor["status"], "notfound");
    assert!(gondor.get("level").is_none() && gondor.get("nextduedate").is_none());
}

#[tokio::test]
async fn node_guest_lists_and_configs() {
    let pve = Pve::start(PveSimConfig::default()).await;
    let cluster = pve.sim.cluster();
    let qemu = pve.data("/nodes/shire/qemu").await;
    let lxc = pve.data("/nodes/shire/lxc").await;
    let expected_qemu = cluster
        .guests_on("shire")
        .filter(|g| g.kind.as_str() == "qemu")
        .count();
    assert_eq!(qemu.as_array().unwrap().len(), expected_qemu);
    assert_eq!(
        qemu.as_array().unwrap().len() + lxc.as_array().unwrap().len(),
        10
    );
    for vm in qemu.as_array().unwrap() {
        assert!(vm["vmid"].is_u64());
        assert!(vm["status"] == "running" || vm["status"] == "stopped");
        assert!(vm.get("type").is_none());
    }
    for ct in lxc.as_array().unwrap() {
        assert!(ct["vmid"].is_u64());
        assert_eq!(ct["type"], "lxc");
    }
    let templates = pve.data("/nodes/rohan/qemu").await;
    let template = find_vmid(&templates, 9000);
    assert_eq!(template["template"], 1);

    let mut onboot_values = BTreeSet::new();
    for node in cluster.nodes.iter() {
        for guest in cluster.guests_on(&node.name) {
            let config = pve
                .data(&format!(
                    "/nodes/{}/{}/{}/config",
                    node.name, guest.kind, guest.vmid
                ))
                .await;
            assert!(config["digest"].is_string());
            match &guest.onboot {
                Some(v) => assert_eq!(config["onboot"], *v),
                None => assert!(config.get("onboot").is_none()),
            }
            onboot_values.insert(config.get("onboot").map(|v| v.to_string()));
            if guest.kind.as_str() == "lxc" {
                assert_eq!(config["hostname"], guest.name.as_str());
                assert!(config.get("name").is_none());
            } else {
                assert_eq!(config["name"], guest.name.as_str());
                assert!(
                    config["memory"].is_string(),
                    "PVE 9 qemu memory is a string"
                );
            }
        }
    }
    assert_eq!(onboot_values.len(), 3, "onboot 1, 0 and absent all occur");

    // A guest on another node, a wrong type, an unknown VMID: the config file does not exist.
    let answer = pve.get("/nodes/shire/qemu/101/config").await;
    assert_eq!(answer.status, 500);
    assert_eq!(
        answer.reason,
        "Configuration file 'nodes/shire/qemu-server/101.conf' does not exist"
    );
    assert_eq!(answer.json()["data"], Value::Null);
    let answer = pve.get("/nodes/shire/lxc/100/config").await;
    assert_eq!(
        answer.reason,
        "Configuration file 'nodes/shire/lxc/100.conf' does not exist"
    );
    let answer = pve.get("/nodes/shire/qemu/abc/config").await;
    assert_eq!(answer.status, 400);

    let pve8 = Pve::start(PveSimConfig::default().version(PveVersion::V8)).await;
    let config = pve8.data("/nodes/shire/qemu/100/config").await;
    assert!(config["memory"].is_u64(), "PVE 8 qemu memory is a number");
}

fn find_vmid(list: &Value, vmid: u64) -> &Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["vmid"] == vmid)
        .unwrap_or_else(|| panic!("no vmid {vmid}"))
}

#[tokio::test]
async fn errors_follow_pve_conventions() {
    let pve = Pve::start(PveSimConfig::default()).await;
    let answer = pve.get("/nodes/nowhere/qemu").await;
    assert_eq!(answer.status, 500);
    assert!(
        answer
            .reason
            .starts_with("hostname lookup 'nowhere' failed")
    );
    let answer = pve.get("/cluster/nothing").await;
    assert_eq!(answer.status, 501);
    assert_eq!(
        answer.reason,
        "Method 'GET /cluster/nothing' not implemented"
    );
    assert_eq!(answer.content_type, "application/json;charset=UTF-8");
    let body = answer.json();
    assert_eq!(body["data"], Value::Null);
    assert_eq!(
        body["message"],
        "Method 'GET /cluster/nothing' not implemented\n"
    );
    let post = pve
        .send(
            pve.client
                .post(pve.url("/version"))
                .header("Authorization", &pve.token),
        )
        .await;
    assert_eq!(post.status, 501);
    // PVE 8 error bodies carry only data: null.
    let pve8 = Pve::start(PveSimConfig::default().version(PveVersion::V8)).await;
    assert_eq!(
        pve8.get("/cluster/nothing").await.json(),
        serde_json::json!({"data": null})
    );
}

#[tokio::test]
async fn token_auth_accepts_the_configured_token_only() {
    let pve = Pve::start(PveSimConfig::default()).await;
    assert_eq!(pve.token, "PVEAPIToken=demo@pve!portkey=demo-token-value");
    assert_eq!(pve.get("/version").await.status, 200);

    let none = pve.send(pve.client.get(pve.url("/version"))).await;
    assert_eq!((none.status, none.reason.as_str()), (401, "No ticket"));
    let wrong_secret = pve
        .send(
            pve.client
                .get(pve.url("/version"))
                .header("Authorization", "PVEAPIToken=demo@pve!portkey=nope"),
        )
        .await;
    assert_eq!(wrong_secret.status, 401);
    let wrong_name = pve
        .send(pve.client.get(pve.url("/cluster/status")).header(
            "Authorization",
            "PVEAPIToken=demo@pve!other=demo-token-value",
        ))
        .await;
    assert_eq!(wrong_name.status, 401);
    assert_eq!(
        wrong_name.reason,
        "no such token 'other' for user 'demo@pve'"
    );

    let custom = Credentials {
        user: "prometheus@pve".into(),
        token_name: "exporter".into(),
        token_value: "s3cret".into(),
        password: "pw".into(),
    };
    let pve = Pve::start(PveSimConfig::default().credentials(custom)).await;
    assert_eq!(pve.get("/version").await.status, 200);
    let demo = pve
        .send(pve.client.get(pve.url("/version")).header(
            "Authorization",
            "PVEAPIToken=demo@pve!portkey=demo-token-value",
        ))
        .await;
    assert_eq!(demo.status, 401);
}

#[tokio::test]
async fn ticket_auth_login_cookie_and_revocation() {
    let pve = Pve::start(PveSimConfig::default()).await;
    let login = pve
        .send(
            pve.client
                .post(pve.url("/access/ticket"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("username=demo%40pve&password=demo-password"),
        )
        .await;
    assert_eq!(login.status, 200);
    let data = login.json()["data"].clone();
    assert_eq!(data["username"], "demo@pve");
    let ticket = data["ticket"].as_str().unwrap().to_owned();
    assert!(ticket.starts_with("PVE:demo@pve:"));
    assert!(data["CSRFPreventionToken"].is_string());
    assert_eq!(data["clustername"], "middleearth");
    assert_eq!(pve.sim.tickets_issued(), 1);

    let with_cookie = |cookie: String| {
        pve.client
            .get(pve.url("/cluster/status"))
            .header("Cookie", cookie)
    };
    let ok = pve
        .send(with_cookie(format!("PVEAuthCookie={ticket}")))
        .await;
    assert_eq!(ok.status, 200);
    let encoded = ticket.replace(':', "%3A").replace('@', "%40");
    let ok = pve
        .send(with_cookie(format!("PVEAuthCookie={encoded}")))
        .await;
    assert_eq!(ok.status, 200);
    let forged = pve
        .send(with_cookie(
            "PVEAuthCookie=PVE:demo@pve:00000000::abc".into(),
        ))
        .await;
    assert_eq!(
        (forged.status, forged.reason.as_str()),
        (401, "invalid PVE ticket")
    );

    pve.sim.revoke_tickets();
    let expired = pve
        .send(with_cookie(format!("PVEAuthCookie={ticket}")))
        .await;
    assert_eq!(expired.status, 401);

    let bad = pve
        .send(
            pve.client
                .post(pve.url("/access/ticket"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("username=demo@pve&password=wrong"),
        )
        .await;
    assert_eq!(
        (bad.status, bad.reason.as_str()),
        (401, "authentication failure")
    );
    let realm = pve
        .send(
            pve.client
                .post(pve.url("/access/ticket"))
                .header("Content-Type", "application/json")
                .body(r#"{"username": "demo", "realm": "pve", "password": "demo-password"}"#),
        )
        .await;
    assert_eq!(realm.status, 200);
    let missing = pve
        .send(
            pve.client
                .post(pve.url("/access/ticket"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("username=demo@pve"),
        )
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(pve.server.log().count("/api2/json/access/ticket"), 4);
}

#[tokio::test]
async fn offline_node_answers_595_and_shows_unknown() {
    let pve = Pve::start(PveSimConfig::default().offline_node("gondor")).await;
    let answer = pve.get("/nodes/gondor/qemu").await;
    assert_eq!(answer.status, 595);
    assert_eq!(pve.get("/nodes/gondor/subscription").await.status, 595);
    assert_eq!(pve.get("/nodes/gondor/qemu/105/config").await.status, 595);
    assert_eq!(pve.get("/nodes/shire/qemu").await.status, 200);

    let status = pve.data("/cluster/status").await;
    let gondor = find(&status, "node/gondor");
    assert_eq!(gondor["online"], 0);
    assert_eq!(gondor["level"], "");
    assert_eq!(status[0]["quorate"], 1);

    let res = pve.data("/cluster/resources").await;
    let node = find(&res, "node/gondor");
    assert_eq!(node["status"], "offline");
    for key in ["uptime", "cpu", "mem", "disk"] {
        assert!(node.get(key).is_none(), "offline node has no {key}");
    }
    assert!(node["maxmem"].is_u64());
    let on_gondor: Vec<&Value> = res
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| (e["type"] == "qemu" || e["type"] == "lxc") && e["node"] == "gondor")
        .collect();
    assert_eq!(on_gondor.len(), 10);
    assert!(on_gondor.iter().all(|g| g["status"] == "unknown"));
    assert!(on_gondor.iter().all(|g| g.get("name").is_none()));
    for storage in of_type(&res, "storage") {
        if storage["node"] == "gondor" {
            assert_eq!(storage["status"], "unknown");
            assert!(storage.get("disk").is_none());
        }
    }

    // Nodes can come back, and go away, while the server runs.
    pve.sim.set_offline("gondor", false).unwrap();
    assert_eq!(pve.get("/nodes/gondor/qemu").await.status, 200);
    pve.sim.set_offline("rohan", true).unwrap();
    assert_eq!(pve.get("/nodes/rohan/lxc").await.status, 595);
    assert!(pve.sim.set_offline("shire", true).is_err());
    assert!(PveSim::new(PveSimConfig::default().offline_node("shire")).is_err());
    assert!(PveSim::new(PveSimConfig::default().offline_node("moria")).is_err());
}

#[tokio::test]
async fn standalone_node_has_no_cluster_entry() {
    let pve = Pve::start(PveSimConfig::default().standalone(true)).await;
    let status = pve.data("/cluster/status").await;
    let list = status.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["type"], "node");
    assert_eq!(list[0]["name"], "shire");
    assert_eq!(list[0]["nodeid"], 0);
    assert_eq!(list[0]["local"], 1);
    assert_eq!(list[0]["online"], 1);
    assert!(of_type(&status, "cluster").is_empty());

    let res = pve.data("/cluster/resources").await;
    assert_eq!(of_type(&res, "node").len(), 1);
    let guests = of_type(&res, "qemu").len() + of_type(&res, "lxc").len();
    assert_eq!(guests, 60);
    assert!(
        res.as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("hastate").is_none())
    );
    assert_eq!(
        pve.data("/cluster/config/qdevice").await,
        serde_json::json!({})
    );
    assert_eq!(
        pve.data("/cluster/backup-info/not-backed-up")
            .await
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert!(
        pve.data("/nodes/shire/replication")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        pve.data("/nodes/shire/qemu")
            .await
            .as_array()
            .unwrap()
            .len(),
        40
    );
    let login = pve
        .send(
            pve.client
                .post(pve.url("/access/ticket"))
                .body("username=demo@pve&password=demo-password"),
        )
        .await;
    assert!(login.json()["data"].get("clustername").is_none());
}

#[tokio::test]
async fn guest_count_knob_scales_the_cluster() {
    let pve = Pve::start(PveSimConfig::default().guests(2000)).await;
    let res = pve.data("/cluster/resources").await;
    let qemu = of_type(&res, "qemu").len();
    let lxc = of_type(&res, "lxc").len();
    assert_eq!(qemu + lxc, 2000);
    assert!(qemu > lxc * 3 / 2, "about two thirds VMs: {qemu}/{lxc}");
    let shire = pve
        .data("/nodes/shire/qemu")
        .await
        .as_array()
        .unwrap()
        .len()
        + pve.data("/nodes/shire/lxc").await.as_array().unwrap().len();
    assert!((330..=340).contains(&shire), "{shire} guests on shire");
    let stopped = pve
        .sim
        .cluster()
        .guests
        .iter()
        .filter(|g| g.status == GuestStatus::Stopped)
        .count();
    assert!(
        (150..=260).contains(&stopped),
        "about 10 % stopped: {stopped}"
    );
    let body = pve.get("/cluster/resources").await.body.len();
    assert!(
        (400_000..=1_200_000).contains(&body),
        "/cluster/resources is {body} bytes"
    );

    let small = Pve::start(PveSimConfig::default().guests(10)).await;
    let res = small.data("/cluster/resources?type=vm").await;
    assert_eq!(res.as_array().unwrap().len(), 10);
    assert!(!of_type(&res, "lxc").is_empty());
}

/// Sorts every list of objects by `id` (or `vmid`) so that order does not matter.
fn normalize(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalize).collect();
            items.sort_by_key(|v| {
                v.get("id")
                    .or_else(|| v.get("vmid"))
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| v.to_string())
            });
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if k == "content" {
                        let mut parts: Vec<&str> = v.as_str().unwrap_or("").split(',').collect();
                        parts.sort();
                        Value::String(parts.join(","))
                    } else {
                        normalize(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[tokio::test]
async fn same_seed_same_content_in_varying_order() {
    let a = Pve::start(PveSimConfig::default().seed(42)).await;
    let b = Pve::start(PveSimConfig::default().seed(42)).await;
    let c = Pve::start(PveSimConfig::default().seed(43)).await;
    for path in [
        "/cluster/resources",
        "/cluster/status",
        "/nodes/shire/qemu",
        "/nodes/shire/replication",
        "/cluster/backup-info/not-backed-up",
    ] {
        assert_eq!(
            normalize(&a.data(path).await),
            normalize(&b.data(path).await),
            "{path}"
        );
    }
    assert_ne!(
        normalize(&a.data("/cluster/resources").await),
        normalize(&c.data("/cluster/resources").await)
    );

    // Key and list order change between requests (PVE's Perl hashes).
    let mut bodies = BTreeSet::new();
    for _ in 0..5 {
        bodies.insert(a.get("/cluster/resources").await.body);
    }
    assert!(bodies.len() > 1, "orders vary per request");
    let first = a.get("/cluster/status").await.body;
    let fixed = Pve::start(PveSimConfig::default().seed(42).shuffle(false)).await;
    let one = fixed.get("/cluster/status").await.body;
    let two = fixed.get("/cluster/status").await.body;
    assert_eq!(one, two, "fixed order without shuffle");
    assert_eq!(
        normalize(&serde_json::from_slice(&first).unwrap()),
        normalize(&serde_json::from_slice(&one).unwrap())
    );
}

#[tokio::test]
async fn counters_advance_when_asked() {
    let pve = Pve::start(PveSimConfig::default().advance_counters(true)).await;
    let first = pve.data("/cluster/resources").await;
    let second = pve.data("/cluster/resources").await;
    let a = &find(&first, "qemu/100")["netin"];
    let b = &find(&second, "qemu/100")["netin"];
    assert!(b.as_u64().unwrap() > a.as_u64().unwrap());
    let still = Pve::start(PveSimConfig::default()).await;
    assert_eq!(
        find(&still.data("/cluster/resources").await, "qemu/100")["netin"],
        find(&still.data("/cluster/resources").await, "qemu/100")["netin"]
    );
}

#[tokio::test]
async fn faults_and_tls_apply_to_the_pve_simulator() {
    install_ring_provider();
    let sim = PveSim::new(PveSimConfig::default()).unwrap();
    let server = SimServer::start_tls(sim.router(), TlsIdentity::generate().unwrap())
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([
            reqwest::Certificate::from_pem(server.ca_pem().unwrap().as_bytes()).unwrap(),
        ])
        .build()
        .unwrap();
    let token = sim.config().credentials.token_header();
    let get = |path: &str| {
        client
            .get(format!("{}/api2/json{path}", server.url()))
            .header("Authorization", &token)
            .send()
    };
    assert_eq!(get("/cluster/status").await.unwrap().status(), 200);
    server.faults().set(
        "/api2/json/cluster/status",
        Fault::Error {
            status: 403,
            reason: "Permission check failed (/, Sys.Audit)".into(),
            body: Some(r#"{"data":null}"#.into()),
        },
    );
    assert_eq!(get("/cluster/status").await.unwrap().status(), 403);
    assert_eq!(get("/cluster/resources").await.unwrap().status(), 200);
    assert_eq!(server.log().count("/api2/json/cluster/status"), 2);
    assert_eq!(server.log().count_prefix("/api2/json/cluster/"), 3);
}

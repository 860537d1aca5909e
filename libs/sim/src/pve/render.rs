//! The JSON shapes of each PVE endpoint (pve-exporter spec §4.1–4.4), rendered from the model.
//!
//! Everything version-, state- or order-dependent is decided here: PVE 8 vs 9 keys, what an
//! offline node or a guest without RRD data still reports, which lists PVE sends in random
//! order. Object key order is shuffled later, when the value is written (`crate::json`).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::PveVersion;
use super::model::{Cluster, EPOCH, Guest, GuestKind, GuestStatus, Node, ReplicationJob};
use crate::rng::{Rng, hash};

/// Simulated seconds that pass per request when counters advance.
pub const SECONDS_PER_TICK: u64 = 10;

/// Everything one response depends on besides the endpoint.
#[derive(Debug)]
pub struct View<'a> {
    /// The data set.
    pub cluster: &'a Cluster,
    /// Shape variant.
    pub version: PveVersion,
    /// Nodes that are currently offline.
    pub offline: &'a HashSet<String>,
    /// The node answering the API.
    pub local: &'a str,
    /// Requests served so far when counters advance, else 0.
    pub tick: u64,
    /// Generator for the lists PVE sends in random order.
    pub rng: Rng,
    /// Whether lists PVE does not sort come out shuffled.
    pub shuffle: bool,
}

fn num(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

fn insert(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    map.insert(key.to_owned(), value.into());
}

impl View<'_> {
    fn maybe_shuffle<T>(&mut self, items: &mut [T]) {
        if self.shuffle {
            self.rng.shuffle(items);
        }
    }

    fn online(&self, node: &str) -> bool {
        !self.offline.contains(node)
    }

    /// Seconds added to uptimes and the rate multiplier for traffic counters.
    fn advance(&self) -> u64 {
        self.tick * SECONDS_PER_TICK
    }

    /// `GET /version`.
    pub fn version(&self) -> Value {
        let v = &self.cluster.version;
        json!({"version": v.version, "release": v.release, "repoid": v.repoid})
    }

    /// `GET /cluster/status`.
    pub fn cluster_status(&mut self) -> Value {
        let cluster = self.cluster;
        let mut nodes: Vec<Value> = cluster
            .nodes
            .iter()
            .map(|node| {
                let online = self.online(&node.name);
                json!({
                    "type": "node",
                    "id": node.id(),
                    "name": node.name,
                    "nodeid": node.nodeid,
                    "ip": node.ip,
                    "local": u8::from(node.name == self.local),
                    "online": u8::from(online),
                    "level": if online { node.level.as_str() } else { "" },
                })
            })
            .collect();
        self.maybe_shuffle(&mut nodes);
        if cluster.standalone {
            return Value::Array(nodes);
        }
        let online = cluster
            .nodes
            .iter()
            .filter(|n| self.online(&n.name))
            .count();
        let qdevice_vote = usize::from(cluster.qdevice.is_some());
        let expected = cluster.nodes.len() + qdevice_vote;
        let quorate = (online + qdevice_vote) * 2 > expected;
        let mut list = vec![json!({
            "type": "cluster",
            "id": "cluster",
            "name": cluster.name,
            "nodes": cluster.nodes.len(),
            "quorate": u8::from(quorate),
            "version": cluster.config_version,
        })];
        list.extend(nodes);
        Value::Array(list)
    }

    fn guest_resource(&self, guest: &Guest) -> Value {
        let mut e = Map::new();
        insert(&mut e, "id", guest.id());
        insert(&mut e, "vmid", guest.vmid);
        insert(&mut e, "node", guest.node.as_str());
        insert(&mut e, "type", guest.kind.as_str());
        let has_rrd = guest.status != GuestStatus::Unknown && self.online(&guest.node);
        if has_rrd {
            let running = guest.running();
            let t = if running { self.advance() } else { 0 };
            insert(&mut e, "status", guest.status.as_str());
            insert(&mut e, "name", guest.name.as_str());
            insert(&mut e, "template", u8::from(guest.template));
            insert(&mut e, "uptime", guest.uptime + t);
            insert(&mut e, "maxcpu", num(guest.maxcpu));
            insert(&mut e, "cpu", num(guest.cpu));
            insert(&mut e, "maxmem", guest.maxmem);
            insert(&mut e, "mem", guest.mem);
            insert(&mut e, "maxdisk", guest.maxdisk);
            insert(&mut e, "disk", guest.disk);
            insert(&mut e, "netin", guest.netin + t * 12_000);
            insert(&mut e, "netout", guest.netout + t * 4_000);
            insert(&mut e, "diskread", guest.diskread + t * 2_000);
            insert(&mut e, "diskwrite", guest.diskwrite + t * 9_000);
            if self.version == PveVersion::V9 {
                let overhead = match guest.kind {
                    GuestKind::Qemu if running => 96 * 1024 * 1024,
                    _ => 0,
                };
                insert(&mut e, "memhost", guest.mem + overhead);
            }
        } else {
            insert(&mut e, "status", "unknown");
        }
        if let Some(tags) = &guest.tags {
            insert(&mut e, "tags", tags.as_str());
        }
        if let Some(lock) = &guest.lock {
            insert(&mut e, "lock", lock.as_str());
        }
        if let Some(pool) = &guest.pool {
            insert(&mut e, "pool", pool.as_str());
        }
        if let Some(hastate) = &guest.hastate {
            insert(&mut e, "hastate", hastate.as_str());
        }
        Value::Object(e)
    }

    fn node_resource(&self, node: &Node) -> Value {
        let mut e = Map::new();
        insert(&mut e, "id", node.id());
        insert(&mut e, "type", "node");
        insert(&mut e, "node", node.name.as_str());
        insert(&mut e, "maxcpu", node.maxcpu);
        insert(&mut e, "maxmem", node.maxmem);
        insert(&mut e, "maxdisk", node.maxdisk);
        insert(&mut e, "level", node.level.as_str());
        if self.online(&node.name) {
            insert(&mut e, "status", "online");
            insert(&mut e, "cgroup-mode", 2);
            insert(&mut e, "uptime", node.uptime + self.advance());
            insert(&mut e, "cpu", num(node.cpu));
            insert(&mut e, "mem", node.mem);
            insert(&mut e, "disk", node.disk);
            if node.ha {
                insert(&mut e, "hastate", "online");
            }
            if self.version == PveVersion::V9 {
                insert(&mut e, "host-arch", "x86_64");
            }
        } else {
            insert(&mut e, "status", "offline");
            if node.ha {
                insert(&mut e, "hastate", "unknown");
            }
        }
        Value::Object(e)
    }

    fn content(&mut self, content: &[String]) -> String {
        let mut items: Vec<&str> = content.iter().map(String::as_str).collect();
        self.maybe_shuffle(&mut items);
        items.join(",")
    }

    /// `GET /cluster/resources[?type=vm|storage|node|sdn]` (the filter is validated by the caller).
    pub fn cluster_resources(&mut self, filter: Option<&str>) -> Value {
        let cluster = self.cluster;
        let wants = |t: &str| filter.is_none() || filter == Some(t);
        let mut out = Vec::new();
        if wants("vm") {
            // PVE sorts VMIDs as strings: 100, 1000, 101.
            let mut guests: Vec<&Guest> = cluster.guests.iter().collect();
            guests.sort_by_key(|g| g.vmid.to_string());
            out.extend(guests.into_iter().map(|g| self.guest_resource(g)));
        }
        if wants("node") {
            let mut nodes: Vec<Value> = cluster
                .nodes
                .iter()
                .map(|n| self.node_resource(n))
                .collect();
            self.maybe_shuffle(&mut nodes);
            out.extend(nodes);
        }
        if wants("storage") {
            for storage in &cluster.storages {
                let mut entries = Vec::new();
                for on_node in &storage.nodes {
                    let mut e = Map::new();
                    insert(
                        &mut e,
                        "id",
                        format!("storage/{}/{}", on_node.node, storage.storage),
                    );
                    insert(&mut e, "type", "storage");
                    insert(&mut e, "storage", storage.storage.as_str());
                    insert(&mut e, "node", on_node.node.as_str());
                    insert(&mut e, "plugintype", storage.plugintype.as_str());
                    insert(&mut e, "shared", u8::from(storage.shared));
                    let content = self.content(&storage.content);
                    insert(&mut e, "content", content);
                    if on_node.available && self.online(&on_node.node) {
                        insert(&mut e, "status", "available");
                        insert(&mut e, "disk", on_node.disk);
                        insert(&mut e, "maxdisk", on_node.maxdisk);
                    } else {
                        insert(&mut e, "status", "unknown");
                    }
                    entries.push(Value::Object(e));
                }
                self.maybe_shuffle(&mut entries);
                out.extend(entries);
            }
        }
        if filter.is_none() {
            for pool in &cluster.pools {
                let members = cluster.guests.iter().filter(|g| {
                    g.pool.as_deref() == Some(pool.as_str()) && g.running() && self.online(&g.node)
                });
                let (mut uptime, mut mem, mut maxmem, mut cpu, mut maxcpu) = (0, 0, 0, 0.0, 0.0);
                for g in members {
                    uptime += g.uptime + self.advance();
                    mem += g.mem;
                    maxmem += g.maxmem;
                    cpu += g.cpu;
                    maxcpu += g.maxcpu;
                }
                out.push(json!({
                    "id": format!("/pool/{pool}"),
                    "type": "pool",
                    "pool": pool,
                    "uptime": uptime,
                    "mem": mem,
                    "maxmem": maxmem,
                    "cpu": num((cpu * 1e6).round() / 1e6),
                    "maxcpu": num(maxcpu),
                }));
            }
        }
        let sdn_filter = filter == Some("sdn") && self.version == PveVersion::V8;
        if filter.is_none() || sdn_filter {
            for node in &cluster.nodes {
                let status = if self.online(&node.name) {
                    "ok"
                } else {
                    "unknown"
                };
                out.push(match self.version {
                    PveVersion::V8 => json!({
                        "id": format!("sdn/{}/localnetwork", node.name),
                        "type": "sdn",
                        "sdn": "localnetwork",
                        "node": node.name,
                        "status": status,
                    }),
                    PveVersion::V9 => json!({
                        "id": format!("network/{}/zone/localnetwork", node.name),
                        "type": "network",
                        "network": "localnetwork",
                        "network-type": "zone",
                        "zone-type": "simple",
                        "node": node.name,
                        "status": status,
                    }),
                });
            }
        }
        Value::Array(out)
    }

    /// `GET /cluster/backup-info/not-backed-up`.
    pub fn not_backed_up(&mut self) -> Value {
        let mut list: Vec<Value> = self
            .cluster
            .not_backed_up()
            .map(|g| json!({"vmid": g.vmid, "type": g.kind.as_str(), "name": g.name}))
            .collect();
        self.maybe_shuffle(&mut list);
        Value::Array(list)
    }

    /// `GET /cluster/config/qdevice`.
    pub fn qdevice(&self) -> Value {
        match &self.cluster.qdevice {
            None => json!({}),
            Some(q) => json!({
                "Model": q.model,
                "Algorithm": q.algorithm,
                "QNetd host": q.qnetd_host,
                "Tie-breaker": q.tie_breaker,
                "State": q.state,
                "Echo reply": q.echo_reply,
                "Last poll call": q.last_poll_call,
            }),
        }
    }

    /// `GET /nodes`.
    pub fn nodes(&mut self) -> Value {
        let mut list: Vec<Value> = self
            .cluster
            .nodes
            .iter()
            .map(|node| {
                let mut e = Map::new();
                insert(&mut e, "id", node.id());
                insert(&mut e, "type", "node");
                insert(&mut e, "node", node.name.as_str());
                insert(&mut e, "level", node.level.as_str());
                insert(&mut e, "maxcpu", node.maxcpu);
                insert(&mut e, "maxmem", node.maxmem);
                insert(&mut e, "maxdisk", node.maxdisk);
                insert(
                    &mut e,
                    "ssl_fingerprint",
                    fingerprint(hash(&[u64::from(node.nodeid), 0x55])),
                );
                if self.online(&node.name) {
                    insert(&mut e, "status", "online");
                    insert(&mut e, "uptime", node.uptime + self.advance());
                    insert(&mut e, "cpu", num(node.cpu));
                    insert(&mut e, "mem", node.mem);
                    insert(&mut e, "disk", node.disk);
                } else {
                    insert(&mut e, "status", "offline");
                }
                Value::Object(e)
            })
            .collect();
        self.maybe_shuffle(&mut list);
        Value::Array(list)
    }

    /// `GET /nodes/<node>/subscription`.
    pub fn subscription(&self, node: &Node) -> Value {
        let s = &node.subscription;
        let mut e = Map::new();
        insert(&mut e, "status", s.status.as_str());
        insert(&mut e, "serverid", s.server_id.as_str());
        insert(
            &mut e,
            "url",
            "https://www.proxmox.com/en/proxmox-virtual-environment/pricing",
        );
        if !s.message.is_empty() {
            insert(&mut e, "message", s.message.as_str());
        }
        insert(&mut e, "checktime", EPOCH - 3600);
        if let Some(level) = &s.level {
            insert(&mut e, "level", level.as_str());
        }
        if let Some(due) = &s.next_due_date {
            insert(&mut e, "nextduedate", due.as_str());
        }
        if let Some(key) = &s.key {
            insert(&mut e, "key", key.as_str());
        }
        if let Some(product) = &s.product_name {
            insert(&mut e, "productname", product.as_str());
        }
        if let Some(reg) = &s.reg_date {
            insert(&mut e, "regdate", reg.as_str());
        }
        if let Some(sockets) = s.sockets {
            insert(&mut e, "sockets", sockets);
        }
        Value::Object(e)
    }

    /// `GET /nodes/<node>/qemu` or `/lxc`: the node's own view of its guests.
    pub fn guest_list(&mut self, node: &str, kind: GuestKind) -> Value {
        let t = self.advance();
        let mut list: Vec<Value> = self
            .cluster
            .guests_on(node)
            .filter(|g| g.kind == kind)
            .map(|g| {
                // The node knows its guests even when the cluster has no RRD data for them.
                let running = g.running();
                let t = if running { t } else { 0 };
                let mut e = Map::new();
                insert(&mut e, "vmid", g.vmid);
                insert(&mut e, "name", g.name.as_str());
                insert(
                    &mut e,
                    "status",
                    if running { "running" } else { "stopped" },
                );
                if g.template {
                    insert(&mut e, "template", 1);
                }
                if let Some(lock) = &g.lock {
                    insert(&mut e, "lock", lock.as_str());
                }
                if let Some(tags) = &g.tags {
                    insert(&mut e, "tags", tags.as_str());
                }
                insert(&mut e, "cpus", num(g.maxcpu));
                insert(&mut e, "cpu", num(g.cpu));
                insert(&mut e, "maxmem", g.maxmem);
                insert(&mut e, "mem", g.mem);
                insert(&mut e, "maxdisk", g.maxdisk);
                insert(&mut e, "disk", g.disk);
                insert(&mut e, "netin", g.netin + t * 12_000);
                insert(&mut e, "netout", g.netout + t * 4_000);
                insert(&mut e, "diskread", g.diskread + t * 2_000);
                insert(&mut e, "diskwrite", g.diskwrite + t * 9_000);
                insert(&mut e, "uptime", if running { g.uptime + t } else { 0 });
                if let Some(pid) = g.pid {
                    insert(&mut e, "pid", pid);
                }
                if kind == GuestKind::Lxc {
                    insert(&mut e, "type", "lxc");
                    insert(&mut e, "maxswap", 512 * 1024 * 1024u64);
                    insert(&mut e, "swap", 0);
                }
                Value::Object(e)
            })
            .collect();
        self.maybe_shuffle(&mut list);
        Value::Array(list)
    }

    /// `GET /nodes/<node>/<kind>/<vmid>/config`.
    pub fn guest_config(&self, guest: &Guest) -> Value {
        let h = hash(&[u64::from(guest.vmid), 0xC0]);
        let mac = format!(
            "BC:24:11:{:02X}:{:02X}:{:02X}",
            (h >> 16) & 0xff,
            (h >> 8) & 0xff,
            h & 0xff
        );
        let memory_mib = guest.maxmem / (1024 * 1024);
        let disk_gib = guest.maxdisk / (1024 * 1024 * 1024);
        let mut e = Map::new();
        insert(
            &mut e,
            "digest",
            format!("{:016x}{:016x}{:08x}", h, hash(&[h]), h >> 32),
        );
        match guest.kind {
            GuestKind::Qemu => {
                insert(&mut e, "name", guest.name.as_str());
                // PVE 9 reports memory as a property string; older versions as a number.
                match self.version {
                    PveVersion::V9 => insert(&mut e, "memory", memory_mib.to_string()),
                    PveVersion::V8 => insert(&mut e, "memory", memory_mib),
                }
                insert(&mut e, "cores", num(guest.maxcpu));
                insert(&mut e, "sockets", 1);
                insert(&mut e, "ostype", "l26");
                insert(&mut e, "boot", "order=scsi0;net0");
                insert(&mut e, "scsihw", "virtio-scsi-single");
                insert(
                    &mut e,
                    "scsi0",
                    format!(
                        "local-zfs:vm-{}-disk-0,iothread=1,size={disk_gib}G",
                        guest.vmid
                    ),
                );
                insert(&mut e, "net0", format!("virtio={mac},bridge=vmbr0"));
                insert(&mut e, "agent", "1");
                insert(&mut e, "smbios1", format!("uuid={}", uuid(h)));
                insert(&mut e, "vmgenid", uuid(hash(&[h, 1])));
                insert(
                    &mut e,
                    "meta",
                    format!("creation-qemu=9.0.2,ctime={}", EPOCH - 90 * 86_400),
                );
            }
            GuestKind::Lxc => {
                insert(&mut e, "hostname", guest.name.as_str());
                insert(&mut e, "memory", memory_mib);
                insert(&mut e, "swap", 512);
                insert(&mut e, "cores", num(guest.maxcpu.ceil()));
                if guest.maxcpu.fract() != 0.0 {
                    insert(&mut e, "cpulimit", num(guest.maxcpu));
                }
                insert(&mut e, "arch", "amd64");
                insert(&mut e, "ostype", "debian");
                insert(
                    &mut e,
                    "rootfs",
                    format!("local-zfs:subvol-{}-disk-0,size={disk_gib}G", guest.vmid),
                );
                insert(
                    &mut e,
                    "net0",
                    format!("name=eth0,bridge=vmbr0,hwaddr={mac},ip=dhcp,type=veth"),
                );
                insert(&mut e, "unprivileged", 1);
                insert(&mut e, "features", "nesting=1");
            }
        }
        if let Some(onboot) = guest.onboot {
            insert(&mut e, "onboot", onboot);
        }
        if let Some(tags) = &guest.tags {
            insert(&mut e, "tags", tags.as_str());
        }
        if let Some(lock) = &guest.lock {
            insert(&mut e, "lock", lock.as_str());
        }
        if guest.template {
            insert(&mut e, "template", 1);
        }
        Value::Object(e)
    }

    /// One replication job object (list entry and `.../status`).
    pub fn replication_job(&self, job: &ReplicationJob) -> Value {
        let mut e = Map::new();
        insert(&mut e, "id", job.id());
        insert(&mut e, "type", "local");
        insert(&mut e, "guest", job.guest);
        insert(&mut e, "jobnum", job.jobnum);
        insert(&mut e, "source", job.source.as_str());
        insert(&mut e, "target", job.target.as_str());
        insert(&mut e, "vmtype", job.vmtype.as_str());
        insert(&mut e, "schedule", job.schedule.as_str());
        insert(&mut e, "last_sync", job.last_sync);
        insert(&mut e, "last_try", job.last_try);
        insert(&mut e, "next_sync", job.next_sync);
        insert(&mut e, "fail_count", job.fail_count);
        if let Some(duration) = job.duration {
            insert(&mut e, "duration", num(duration));
        }
        if let Some(error) = &job.error {
            insert(&mut e, "error", error.as_str());
        }
        if let Some(comment) = &job.comment {
            insert(&mut e, "comment", comment.as_str());
        }
        if let Some(rate) = job.rate {
            insert(&mut e, "rate", num(rate));
        }
        if job.disable {
            insert(&mut e, "disable", 1);
        }
        Value::Object(e)
    }

    /// `GET /nodes/<node>/replication`: the node's jobs, sorted by id.
    pub fn node_replication(&self, node: &str) -> Value {
        Value::Array(
            self.cluster
                .replication_on(node)
                .map(|j| self.replication_job(j))
                .collect(),
        )
    }

    /// `GET /cluster/replication`: the job configurations.
    pub fn cluster_replication(&self) -> Value {
        Value::Array(
            self.cluster
                .replication
                .iter()
                .map(|job| {
                    let mut e = Map::new();
                    insert(&mut e, "id", job.id());
                    insert(&mut e, "type", "local");
                    insert(&mut e, "guest", job.guest);
                    insert(&mut e, "jobnum", job.jobnum);
                    insert(&mut e, "source", job.source.as_str());
                    insert(&mut e, "target", job.target.as_str());
                    insert(&mut e, "schedule", job.schedule.as_str());
                    if let Some(comment) = &job.comment {
                        insert(&mut e, "comment", comment.as_str());
                    }
                    if let Some(rate) = job.rate {
                        insert(&mut e, "rate", num(rate));
                    }
                    if job.disable {
                        insert(&mut e, "disable", 1);
                    }
                    Value::Object(e)
                })
                .collect(),
        )
    }
}

fn uuid(h: u64) -> String {
    let l = hash(&[h, 2]);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (l >> 48) & 0xfff,
        l & 0xffff_ffff_ffff
    )
}

fn fingerprint(h: u64) -> String {
    let mut bytes = Vec::with_capacity(32);
    let mut x = h;
    for _ in 0..32 {
        x = hash(&[x]);
        bytes.push(format!("{:02X}", x & 0xff));
    }
    bytes.join(":")
}

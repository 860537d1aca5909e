//! One scrape's SNMP work: GET batches and subtree walks, with retries, the scrape deadline,
//! bounded parallelism and PDU accounting (spec §2.9, §3.2, §3.3).
//!
//! The GET list and every walk root of all requested modules form one work list. Identical roots
//! and anything under another requested root are fetched once (credited to the first module in
//! request order); items run concurrently, at most `walk_concurrency` at a time, and every request
//! also holds a permit of the target's process-wide limit. Results are merged into one OID map in
//! work-list order, so output never depends on completion order.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use portkey_kit::deadline::Deadline;
use tokio::sync::Semaphore;

use crate::client::{
    ClientError, NO_SUCH_NAME, Response, Session, TOO_BIG, Value, VarBind, error_status_name,
};
use crate::config::Version;
use crate::oid::Oid;

/// Walk parameters of the module an item belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WalkParams {
    /// GETBULK max-repetitions, and GET batch size.
    pub max_repetitions: u32,
    /// Re-sends after a timeout.
    pub retries: u32,
    /// Per attempt.
    pub timeout: Duration,
    /// Skip the OID-not-increasing check.
    pub allow_nonincreasing_oids: bool,
}

impl WalkParams {
    /// A module's walk parameters.
    pub fn of(module: &crate::config::Module) -> WalkParams {
        WalkParams {
            max_repetitions: module.max_repetitions,
            retries: module.retries,
            timeout: module.timeout,
            allow_nonincreasing_oids: module.allow_nonincreasing_oids,
        }
    }
}

/// What one work item fetches.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// GET of instance OIDs, in batches.
    Get(Vec<Oid>),
    /// Walk of a subtree.
    Walk(Oid),
    /// Walk of a dynamic filter's column: it selects indexes and is not rendered
    /// ([`crate::filter`]).
    Filter(Oid),
}

/// One entry of the work list.
#[derive(Debug, Clone)]
pub struct Item {
    /// What to fetch.
    pub work: Work,
    /// Index of the module credited with its PDUs and packets.
    pub module: usize,
    /// Index of the session (credentials) it uses.
    pub session: usize,
    /// Its module's walk parameters.
    pub params: WalkParams,
    /// The session's SNMP version.
    pub version: Version,
}

impl Item {
    /// The `collector` label: `get`, the walk root, or `filter:<oid>`.
    pub fn collector(&self) -> String {
        match &self.work {
            Work::Get(_) => "get".to_owned(),
            Work::Walk(root) => root.to_string(),
            Work::Filter(oid) => format!("filter:{oid}"),
        }
    }
}

/// One requested module as the planner sees it: its (possibly filter-rewritten) lists.
#[derive(Debug, Clone)]
pub struct PlanEntry<'a> {
    /// Index of the module in request order.
    pub module: usize,
    /// Index of the session (credentials) it uses.
    pub session: usize,
    /// The session's SNMP version.
    pub version: Version,
    /// The module's walk parameters.
    pub params: WalkParams,
    /// Subtree roots.
    pub walk: Cow<'a, [Oid]>,
    /// Instance OIDs.
    pub get: Cow<'a, [Oid]>,
    /// Dynamic filters.
    pub filters: &'a [crate::config::Filter],
}

impl<'a> PlanEntry<'a> {
    /// The entry of `module` as configured.
    pub fn new(
        index: usize,
        module: &'a crate::config::Module,
        session: usize,
        version: Version,
    ) -> PlanEntry<'a> {
        PlanEntry {
            module: index,
            session,
            version,
            params: WalkParams::of(module),
            walk: Cow::Borrowed(&module.walk),
            get: Cow::Borrowed(&module.get),
            filters: &module.filters,
        }
    }
}

/// The walks of dynamic filter columns, run before everything else (modules in request order).
///
/// One walk per distinct (session, column). A column that is also an uncovered walk root of a
/// module on that session and restricted by no filter is walked once, as that root: the item is
/// an ordinary [`Work::Walk`] whose varbinds are rendered, and [`plan`]'s list must skip it.
pub fn plan_filters(modules: &[PlanEntry<'_>]) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    for entry in modules {
        for filter in entry.filters {
            let session = entry.session;
            if items
                .iter()
                .any(|i| i.session == session && i.work_oid() == Some(&filter.oid))
            {
                continue;
            }
            let same_session = || modules.iter().filter(|e| e.session == session);
            let restricted = same_session()
                .flat_map(|e| e.filters.iter())
                .any(|f| f.targets.contains(&filter.oid));
            let covered = same_session()
                .flat_map(|e| e.walk.iter())
                .any(|root| filter.oid.is_strictly_under(root));
            let owner = same_session().find(|e| e.walk.contains(&filter.oid));
            let item = match owner {
                Some(owner) if !restricted && !covered => Item {
                    work: Work::Walk(filter.oid.clone()),
                    module: owner.module,
                    session,
                    params: owner.params,
                    version: owner.version,
                },
                _ => Item {
                    work: Work::Filter(filter.oid.clone()),
                    module: entry.module,
                    session,
                    params: entry.params,
                    version: entry.version,
                },
            };
            items.push(item);
        }
    }
    items
}

impl Item {
    fn work_oid(&self) -> Option<&Oid> {
        match &self.work {
            Work::Walk(oid) | Work::Filter(oid) => Some(oid),
            Work::Get(_) => None,
        }
    }
}

/// Builds the de-duplicated work list for a request (modules in request order). Walks already
/// done (as (session, root)) are left out.
pub fn plan(modules: &[PlanEntry<'_>], done: &[Item]) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    // Roots per session, to drop work already covered by another requested root.
    let mut roots: HashMap<usize, Vec<Oid>> = HashMap::new();
    for entry in modules {
        roots
            .entry(entry.session)
            .or_default()
            .extend(entry.walk.iter().cloned());
    }
    let covered = |session: usize, oid: &Oid, own: Option<&Oid>| {
        roots.get(&session).is_some_and(|all| {
            all.iter()
                .any(|root| Some(root) != own && oid.is_strictly_under(root))
        })
    };
    let mut seen_walks: Vec<(usize, Oid)> = done
        .iter()
        .filter_map(|i| match &i.work {
            Work::Walk(root) => Some((i.session, root.clone())),
            _ => None,
        })
        .collect();
    let mut seen_gets: Vec<(usize, Oid)> = Vec::new();
    for entry in modules {
        let (index, session, version, params) =
            (&entry.module, &entry.session, &entry.version, entry.params);
        let mut gets = Vec::new();
        for oid in entry.get.iter() {
            if covered(*session, oid, None)
                || roots
                    .get(session)
                    .is_some_and(|all| all.iter().any(|r| r == oid))
                || seen_gets.contains(&(*session, oid.clone()))
            {
                continue;
            }
            seen_gets.push((*session, oid.clone()));
            gets.push(oid.clone());
        }
        if !gets.is_empty() {
            items.push(Item {
                work: Work::Get(gets),
                module: *index,
                session: *session,
                params,
                version: *version,
            });
        }
        for root in entry.walk.iter() {
            if seen_walks.contains(&(*session, root.clone())) || covered(*session, root, Some(root))
            {
                continue;
            }
            seen_walks.push((*session, root.clone()));
            items.push(Item {
                work: Work::Walk(root.clone()),
                module: *index,
                session: *session,
                params,
                version: *version,
            });
        }
    }
    items
}

/// Why an item failed; the `reason` label of `snmp_walk_failures_total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A request failed at the client level.
    Client(ClientError),
    /// The scrape deadline stopped the work.
    Deadline,
    /// A non-zero error-status (GET batches; tooBig that could not be avoided).
    ErrorStatus(u32),
    /// The agent returned the OID just requested.
    NotIncreasing(Oid),
}

impl Failure {
    /// The reason label.
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::Client(e) => e.reason(),
            Failure::Deadline => "deadline",
            Failure::ErrorStatus(_) => "error_status",
            Failure::NotIncreasing(_) => "not_increasing",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Client(e) => write!(f, "{e}"),
            Failure::Deadline => f.write_str("scrape deadline reached"),
            Failure::ErrorStatus(s) => write!(f, "error-status {}({s})", error_status_name(*s)),
            Failure::NotIncreasing(oid) => write!(f, "OID not increasing: {oid}"),
        }
    }
}

/// What one item did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The item.
    pub item: Item,
    /// `None` on success.
    pub failure: Option<Failure>,
    /// Wall time.
    pub duration: Duration,
    /// When it finished, relative to the scrape start.
    pub finished: Duration,
    /// Varbinds kept.
    pub pdus: u64,
    /// Request attempts sent by the walk loop.
    pub packets: u64,
    /// Re-sends.
    pub retried: u64,
    /// Whether any request got a valid response.
    pub answered: bool,
    /// Kept varbinds in the order received.
    pub varbinds: Vec<VarBind>,
}

/// Process-wide limits of in-flight requests per target (spec §3.3).
#[derive(Debug)]
pub struct TargetLimits {
    per_target: usize,
    map: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl TargetLimits {
    /// At most `per_target` requests in flight per target.
    pub fn new(per_target: usize) -> TargetLimits {
        TargetLimits {
            per_target: per_target.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The semaphore of `key` (transport, host, port).
    pub fn get(&self, key: &str) -> Arc<Semaphore> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(key.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_target)))
            .clone()
    }
}

/// Shared context of one scrape's work.
pub struct Runner<'a> {
    /// Open sessions, by index.
    pub sessions: &'a [Box<dyn Session>],
    /// The scrape deadline.
    pub deadline: Deadline,
    /// The target's in-flight limit.
    pub target_limit: Arc<Semaphore>,
    /// Log every PDU at debug.
    pub debug_packets: bool,
    /// Scrape start.
    pub started: Instant,
    /// `target` for logs.
    pub target: &'a str,
    /// Round-trip time of every answered request, for `snmp_packet_duration_seconds`.
    pub packet_times: Mutex<Vec<Duration>>,
}

impl std::fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("sessions", &self.sessions.len())
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Runs `items` with at most `concurrency` at a time; outcomes come back in item order.
pub async fn run(runner: &Runner<'_>, items: Vec<Item>, concurrency: usize) -> Vec<Outcome> {
    let mut outcomes: Vec<(usize, Outcome)> = futures_util::stream::iter(
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| async move { (i, run_item(runner, item).await) }),
    )
    .buffer_unordered(concurrency.max(1))
    .collect()
    .await;
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Get,
    GetNext,
    GetBulk(u32),
}

struct Counters {
    packets: u64,
    retried: u64,
    answered: bool,
}

async fn run_item(runner: &Runner<'_>, item: Item) -> Outcome {
    let start = Instant::now();
    let mut counters = Counters {
        packets: 0,
        retried: 0,
        answered: false,
    };
    let mut kept = Vec::new();
    let session = runner.sessions[item.session].as_ref();
    let result = match &item.work {
        Work::Get(oids) => get_all(runner, session, &item, oids, &mut counters, &mut kept).await,
        Work::Walk(root) | Work::Filter(root) => {
            walk(runner, session, &item, root, &mut counters, &mut kept).await
        }
    };
    let failure = result.err();
    if let Some(failure) = &failure {
        tracing::debug!(
            target = runner.target,
            collector = %item.collector(),
            reason = failure.reason(),
            error = %failure,
            "SNMP collector failed"
        );
    }
    Outcome {
        pdus: kept.len() as u64,
        varbinds: kept,
        failure,
        duration: start.elapsed(),
        finished: runner.started.elapsed(),
        packets: counters.packets,
        retried: counters.retried,
        answered: counters.answered,
        item,
    }
}

/// One request with retries, bounded by the deadline.
async fn request(
    runner: &Runner<'_>,
    session: &dyn Session,
    op: Op,
    oids: &[Oid],
    params: &WalkParams,
    counters: &mut Counters,
) -> Result<Response, Failure> {
    for attempt in 0..=params.retries {
        if runner.deadline.expired() {
            return Err(Failure::Deadline);
        }
        let permit = match runner.deadline.run(runner.target_limit.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => return Err(Failure::Deadline),
        };
        let timeout = runner.deadline.call_timeout(params.timeout);
        if timeout.is_zero() {
            return Err(Failure::Deadline);
        }
        counters.packets += 1;
        if attempt > 0 {
            counters.retried += 1;
        }
        if runner.debug_packets {
            tracing::debug!(target = runner.target, ?op, oids = ?oids.iter().map(ToString::to_string).collect::<Vec<_>>(), attempt, "sending SNMP request");
        }
        let sent_at = Instant::now();
        let result = match op {
            Op::Get => session.get(oids, timeout).await,
            Op::GetNext => session.get_next(oids, timeout).await,
            Op::GetBulk(n) => session.get_bulk(oids, 0, n, timeout).await,
        };
        drop(permit);
        match result {
            Ok(response) => {
                counters.answered = true;
                runner
                    .packet_times
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(sent_at.elapsed());
                if runner.debug_packets {
                    tracing::debug!(target = runner.target, error_status = response.error_status, varbinds = ?response.varbinds, "SNMP response");
                }
                return Ok(response);
            }
            Err(ClientError::Timeout) => {
                if runner.deadline.expired() {
                    return Err(Failure::Deadline);
                }
            }
            Err(other) => return Err(Failure::Client(other)),
        }
    }
    Err(Failure::Client(ClientError::Timeout))
}

async fn get_all(
    runner: &Runner<'_>,
    session: &dyn Session,
    item: &Item,
    oids: &[Oid],
    counters: &mut Counters,
    kept: &mut Vec<VarBind>,
) -> Result<(), Failure> {
    let batch = if item.version == Version::V1 || item.params.max_repetitions == 0 {
        1
    } else {
        item.params.max_repetitions as usize
    };
    let mut failure = None;
    for chunk in oids.chunks(batch) {
        let response = request(runner, session, Op::Get, chunk, &item.params, counters).await?;
        match response.error_status {
            0 => kept.extend(
                response
                    .varbinds
                    .into_iter()
                    .filter(|vb| !vb.value.is_exception()),
            ),
            NO_SUCH_NAME if item.version == Version::V1 => continue,
            status => {
                tracing::debug!(
                    target = runner.target,
                    status = error_status_name(status),
                    "GET batch failed"
                );
                failure = Some(Failure::ErrorStatus(status));
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

async fn walk(
    runner: &Runner<'_>,
    session: &dyn Session,
    item: &Item,
    root: &Oid,
    counters: &mut Counters,
    kept: &mut Vec<VarBind>,
) -> Result<(), Failure> {
    let mut repetitions = if item.params.max_repetitions == 0 {
        25
    } else {
        item.params.max_repetitions
    };
    let mut cursor = root.clone();
    let mut first = true;
    loop {
        let op = if item.version == Version::V1 {
            Op::GetNext
        } else {
            Op::GetBulk(repetitions)
        };
        let request_oids = [cursor.clone()];
        let response = request(runner, session, op, &request_oids, &item.params, counters).await?;
        if response.error_status == TOO_BIG && matches!(op, Op::GetBulk(_)) {
            if repetitions > 1 {
                repetitions = (repetitions / 2).max(1);
                continue;
            }
            return Err(Failure::ErrorStatus(TOO_BIG));
        }
        if response.error_status != 0 {
            // Upstream ends the walk without error here (e.g. genErr, or v1 noSuchName at the
            // end of the MIB view).
            tracing::debug!(target = runner.target, root = %root, status = error_status_name(response.error_status), "walk ended by error-status");
            return Ok(());
        }
        if response.varbinds.is_empty() {
            return Ok(());
        }
        let mut last = None;
        for (i, vb) in response.varbinds.into_iter().enumerate() {
            if vb.value.is_exception() || !vb.oid.is_strictly_under(root) {
                if first && i == 0 {
                    // The root may itself be an instance (e.g. `1.3.6.1.2.1.1.3.0`).
                    let get = request(
                        runner,
                        session,
                        Op::Get,
                        &request_oids,
                        &item.params,
                        counters,
                    )
                    .await?;
                    if get.error_status == 0 {
                        kept.extend(
                            get.varbinds
                                .into_iter()
                                .filter(|v| !v.value.is_exception() && v.oid == *root),
                        );
                    }
                }
                return Ok(());
            }
            if !item.params.allow_nonincreasing_oids && vb.oid == cursor {
                return Err(Failure::NotIncreasing(vb.oid));
            }
            last = Some(vb.oid.clone());
            kept.push(vb);
        }
        first = false;
        match last {
            Some(oid) => cursor = oid,
            None => return Ok(()),
        }
    }
}

/// Merges outcomes' varbinds into one map in work-list order (later duplicates replace earlier).
/// Filter column walks only select indexes and are left out (upstream does not render them).
pub fn merge(outcomes: &[Outcome]) -> BTreeMap<Oid, Value> {
    let mut map = BTreeMap::new();
    for outcome in outcomes
        .iter()
        .filter(|o| !matches!(o.item.work, Work::Filter(_)))
    {
        for vb in &outcome.varbinds {
            map.insert(vb.oid.clone(), vb.value.clone());
        }
    }
    map
}

//! The request log: what a simulator was asked, in which order, how often and how many at once.
//!
//! Exporter tests assert on call patterns ("each endpoint once per scrape", "at most four config
//! calls in flight"), so every request that is not a control request (`/_sim/...`) is recorded by
//! the server middleware before any fault or handler runs, and completed when its response head
//! is handed to the connection (or when the request is abandoned).
//!
//! Counters (`total`, per-path counts, overall peak concurrency) are exact for the life of the
//! server or since the last [`RequestLog::reset`]; the detailed entries are kept up to a capacity
//! so that a long-running demo does not grow without bound.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value, json};

/// Default number of detailed entries kept; counters stay exact beyond it.
pub const DEFAULT_LOG_CAPACITY: usize = 50_000;

/// One request as the simulator saw it.
///
/// Kept whole (all headers, the body) because tests check credentials, scrape-timeout headers
/// and form bodies, and a simulator cannot know in advance which of them a test cares about.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// Position in arrival order, starting at 0 after each reset.
    pub seq: u64,
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Request path without the query string.
    pub path: String,
    /// Raw query string, if the request had one.
    pub query: Option<String>,
    /// Every request header as received.
    pub headers: HeaderMap,
    /// The request body (empty for most GETs).
    pub body: Bytes,
    /// When the middleware received the request.
    pub started: Instant,
    /// When the response head was produced, or the request abandoned; `None` while in flight.
    pub finished: Option<Instant>,
    /// Status sent, `None` while in flight or when the connection was dropped without a response.
    pub status: Option<u16>,
    /// Name of the injected fault that applied to this request, if any.
    pub fault: Option<String>,
}

impl LogEntry {
    /// The first value of header `name` (case-insensitive) as text, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Value of query parameter `name` (first occurrence, percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Time from arrival to response head, once finished.
    pub fn duration(&self) -> Option<Duration> {
        self.finished
            .map(|f| f.saturating_duration_since(self.started))
    }

    /// JSON form used by `GET /_sim/log`; instants become milliseconds since `epoch`.
    pub(crate) fn to_json(&self, epoch: Instant) -> Value {
        let ms = |t: Instant| t.saturating_duration_since(epoch).as_secs_f64() * 1000.0;
        let mut headers = Map::new();
        for name in self.headers.keys() {
            let values: Vec<String> = self
                .headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            headers.insert(name.as_str().to_owned(), Value::String(values.join(", ")));
        }
        json!({
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": headers,
            "body": String::from_utf8_lossy(&self.body),
            "start_ms": ms(self.started),
            "end_ms": self.finished.map(ms),
            "duration_ms": self.duration().map(|d| d.as_secs_f64() * 1000.0),
            "status": self.status,
            "fault": self.fault,
        })
    }
}

#[derive(Debug)]
struct LogState {
    entries: VecDeque<LogEntry>,
    next_seq: u64,
    total: u64,
    per_path: HashMap<String, u64>,
    in_flight: usize,
    peak: usize,
    connections: u64,
}

#[derive(Debug)]
struct LogInner {
    epoch: Instant,
    capacity: usize,
    state: Mutex<LogState>,
}

/// Shared handle on a simulator's request log (cheap to clone).
///
/// Exists so that tests can assert on what an exporter asked its upstream without mocking the
/// exporter's client: the real client talks to the simulator, the log records it.
#[derive(Clone, Debug)]
pub struct RequestLog {
    inner: Arc<LogInner>,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_LOG_CAPACITY)
    }
}

impl RequestLog {
    /// An empty log keeping at most `capacity` detailed entries (counters are unbounded).
    pub fn with_capacity(capacity: usize) -> Self {
        RequestLog {
            inner: Arc::new(LogInner {
                epoch: Instant::now(),
                capacity: capacity.max(1),
                state: Mutex::new(LogState {
                    entries: VecDeque::new(),
                    next_seq: 0,
                    total: 0,
                    per_path: HashMap::new(),
                    in_flight: 0,
                    peak: 0,
                    connections: 0,
                }),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        // A panic while holding the lock cannot leave the state inconsistent in a way that
        // matters for a test log, so a poisoned lock is simply taken over.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The instant the log was created; `GET /_sim/log` reports times relative to it.
    pub fn epoch(&self) -> Instant {
        self.inner.epoch
    }

    /// Records the arrival of a request and returns the guard that completes it.
    pub(crate) fn begin(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: HeaderMap,
        body: Bytes,
    ) -> InFlight {
        let mut state = self.lock();
        let seq = state.next_seq;
        state.next_seq += 1;
        state.total += 1;
        *state.per_path.entry(path.to_owned()).or_insert(0) += 1;
        state.in_flight += 1;
        state.peak = state.peak.max(state.in_flight);
        state.entries.push_back(LogEntry {
            seq,
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            headers,
            body,
            started: Instant::now(),
            finished: None,
            status: None,
            fault: None,
        });
        while state.entries.len() > self.inner.capacity {
            state.entries.pop_front();
        }
        InFlight {
            log: self.clone(),
            seq,
            done: false,
        }
    }

    fn complete(&self, seq: u64, status: Option<u16>, fault: Option<String>) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        let Some(front) = state.entries.front().map(|e| e.seq) else {
            return;
        };
        if seq < front {
            return; // evicted by capacity, or the log was reset meanwhile
        }
        let index = (seq - front) as usize;
        if let Some(entry) = state.entries.get_mut(index)
            && entry.seq == seq
        {
            entry.finished = Some(Instant::now());
            entry.status = status;
            if fault.is_some() {
                entry.fault = fault;
            }
        }
    }

    /// A copy of the retained entries, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.lock().entries.iter().cloned().collect()
    }

    /// Retained entries whose path is exactly `path`.
    pub fn entries_for(&self, path: &str) -> Vec<LogEntry> {
        self.lock()
            .entries
            .iter()
            .filter(|e| e.path == path)
            .cloned()
            .collect()
    }

    /// The most recent entry, if any.
    pub fn last(&self) -> Option<LogEntry> {
        self.lock().entries.back().cloned()
    }

    /// Number of requests since start or reset (control requests excluded).
    pub fn total(&self) -> u64 {
        self.lock().total
    }

    /// Number of requests whose path is exactly `path`.
    pub fn count(&self, path: &str) -> u64 {
        self.lock().per_path.get(path).copied().unwrap_or(0)
    }

    /// Number of requests whose path starts with `prefix`.
    pub fn count_prefix(&self, prefix: &str) -> u64 {
        self.lock()
            .per_path
            .iter()
            .filter(|(path, _)| path.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Request counts per exact path.
    pub fn counts(&self) -> HashMap<String, u64> {
        self.lock().per_path.clone()
    }

    /// Requests being handled right now.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Most requests in flight at once since start or reset.
    pub fn peak_concurrency(&self) -> usize {
        self.lock().peak
    }

    /// Most requests with a path starting with `prefix` in flight at once, computed from the
    /// retained entries (a request that ends at the instant another starts does not overlap it).
    pub fn peak_concurrency_prefix(&self, prefix: &str) -> usize {
        let state = self.lock();
        // +1 at start, -1 at end; ends sort before starts at the same instant.
        let mut events: Vec<(Instant, i8)> = Vec::new();
        for entry in state.entries.iter().filter(|e| e.path.starts_with(prefix)) {
            events.push((entry.started, 1));
            if let Some(end) = entry.finished {
                events.push((end, -1));
            }
        }
        drop(state);
        events.sort();
        let mut current: i64 = 0;
        let mut peak: i64 = 0;
        for (_, delta) in events {
            current += i64::from(delta);
            peak = peak.max(current);
        }
        usize::try_from(peak).unwrap_or(0)
    }

    /// Forgets entries and counters; requests still in flight keep counting towards concurrency.
    pub fn reset(&self) {
        let mut state = self.lock();
        state.entries.clear();
        state.next_seq = 0;
        state.total = 0;
        state.per_path.clear();
        state.peak = state.in_flight;
        state.connections = 0;
    }

    /// TCP connections accepted since the start or the last [`RequestLog::reset`]: lets tests
    /// assert that a client reuses its keep-alive connections.
    pub fn connections(&self) -> u64 {
        self.lock().connections
    }

    /// Counts one accepted connection.
    pub(crate) fn note_connection(&self) {
        self.lock().connections += 1;
    }

    /// JSON for `GET /_sim/log`.
    pub(crate) fn to_json(&self) -> Value {
        let epoch = self.inner.epoch;
        Value::Array(
            self.lock()
                .entries
                .iter()
                .map(|e| e.to_json(epoch))
                .collect(),
        )
    }

    /// JSON for `GET /_sim/stats`.
    pub(crate) fn stats_json(&self) -> Value {
        let state = self.lock();
        json!({
            "requests": state.total,
            "peak_concurrency": state.peak,
            "in_flight": state.in_flight,
            "paths": state.per_path,
        })
    }
}

/// Completes a log entry when the response is produced, or marks it abandoned when dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    log: RequestLog,
    seq: u64,
    done: bool,
}

impl InFlight {
    /// Records the response status (or `None` for a dropped connection) and the fault applied.
    pub(crate) fn finish(mut self, status: Option<u16>, fault: Option<String>) {
        self.done = true;
        self.log.complete(self.seq, status, fault);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.done {
            self.log.complete(self.seq, None, None);
        }
    }
}

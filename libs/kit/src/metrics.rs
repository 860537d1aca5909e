//! Self-metrics: counters, gauges, histograms and summaries an exporter keeps about itself, and
//! the registry that renders them on the telemetry path.
//!
//! They render through the same [`Encoder`] as target data, so `/metrics` honours content
//! negotiation the same way every other endpoint does. Label sets are small and bounded by
//! construction (modules, collectors, templated paths), so a mutex-guarded map per family is
//! simpler than lock-free cells and costs nothing measurable at these rates.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::exposition::{Encoder, Kind};

/// Something that writes families into an [`Encoder`].
pub trait Collect: Send + Sync + std::fmt::Debug {
    /// Writes this collector's families.
    fn collect(&self, encoder: &mut Encoder);
}

/// The set of self-metric collectors served on the telemetry path.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    collectors: Arc<Mutex<Vec<Arc<dyn Collect>>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a collector; returns it so callers can keep a handle.
    pub fn register<C: Collect + 'static>(&self, collector: Arc<C>) -> Arc<C> {
        self.collectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(collector.clone());
        collector
    }

    /// Writes every registered collector, in registration order.
    pub fn collect(&self, encoder: &mut Encoder) {
        let collectors = self
            .collectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for collector in collectors {
            collector.collect(encoder);
        }
    }
}

type LabelValues = Vec<String>;

fn label_pairs<'a>(names: &'a [&'static str], values: &'a [String]) -> Vec<(&'a str, &'a str)> {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| (*n, v.as_str()))
        .collect()
}

fn owned(values: &[&str]) -> LabelValues {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// A family of counters or gauges keyed by label values.
#[derive(Debug)]
pub struct ValueFamily {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    values: Mutex<BTreeMap<LabelValues, f64>>,
}

impl ValueFamily {
    /// A counter family; `name` includes `_total`.
    pub fn counter(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Arc<ValueFamily> {
        Arc::new(Self::new(name, help, Kind::Counter, labels))
    }

    /// A gauge family.
    pub fn gauge(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Arc<ValueFamily> {
        Arc::new(Self::new(name, help, Kind::Gauge, labels))
    }

    fn new(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &'static [&'static str],
    ) -> Self {
        ValueFamily {
            name,
            help,
            kind,
            labels,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<LabelValues, f64>) -> R) -> R {
        f(&mut self.values.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Adds `delta` to the series (created at zero).
    pub fn add(&self, labels: &[&str], delta: f64) {
        debug_assert_eq!(labels.len(), self.labels.len(), "{}", self.name);
        self.with(|m| *m.entry(owned(labels)).or_insert(0.0) += delta);
    }

    /// Adds one.
    pub fn inc(&self, labels: &[&str]) {
        self.add(labels, 1.0);
    }

    /// Sets a gauge series.
    pub fn set(&self, labels: &[&str], value: f64) {
        self.with(|m| m.insert(owned(labels), value));
    }

    /// Creates the series at zero if absent, so it is visible before the first event.
    pub fn touch(&self, labels: &[&str]) {
        self.add(labels, 0.0);
    }

    /// The current value, for tests and derived metrics.
    pub fn get(&self, labels: &[&str]) -> Option<f64> {
        self.with(|m| m.get(&owned(labels)).copied())
    }
}

impl Collect for ValueFamily {
    fn collect(&self, encoder: &mut Encoder) {
        encoder.family(self.name, self.help, self.kind);
        self.with(|m| {
            for (values, value) in m.iter() {
                encoder.sample(&label_pairs(self.labels, values), *value);
            }
        });
    }
}

#[derive(Debug, Clone, Default)]
struct Distribution {
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

/// A histogram (with buckets) or summary (count and sum only) family.
#[derive(Debug)]
pub struct DistributionFamily {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    /// Upper bounds; empty for a summary.
    bounds: &'static [f64],
    series: Mutex<BTreeMap<LabelValues, Distribution>>,
}

impl DistributionFamily {
    /// A histogram with the given bucket upper bounds (`+Inf` is implied).
    pub fn histogram(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Arc<DistributionFamily> {
        Arc::new(DistributionFamily {
            name,
            help,
            labels,
            bounds,
            series: Mutex::new(BTreeMap::new()),
        })
    }

    /// A summary without quantiles (`_count` and `_sum`).
    pub fn summary(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Arc<DistributionFamily> {
        Self::histogram(name, help, labels, &[])
    }

    /// Records one observation.
    pub fn observe(&self, labels: &[&str], value: f64) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = series.entry(owned(labels)).or_insert_with(|| Distribution {
            buckets: vec![0; self.bounds.len()],
            ..Distribution::default()
        });
        entry.count += 1;
        entry.sum += value;
        for (bucket, bound) in entry.buckets.iter_mut().zip(self.bounds) {
            if value <= *bound {
                *bucket += 1;
            }
        }
    }

    /// Creates the series empty, so it is visible before the first observation.
    pub fn touch(&self, labels: &[&str]) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series.entry(owned(labels)).or_insert_with(|| Distribution {
            buckets: vec![0; self.bounds.len()],
            ..Distribution::default()
        });
    }

    /// Observation count of a series, for tests.
    pub fn count(&self, labels: &[&str]) -> Option<u64> {
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series.get(&owned(labels)).map(|d| d.count)
    }
}

impl Collect for DistributionFamily {
    fn collect(&self, encoder: &mut Encoder) {
        let kind = if self.bounds.is_empty() {
            Kind::Summary
        } else {
            Kind::Histogram
        };
        encoder.family(self.name, self.help, kind);
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let bounds: Vec<String> = self
            .bounds
            .iter()
            .map(|bound| {
                let mut buf = Vec::new();
                crate::exposition::write_value(&mut buf, *bound);
                String::from_utf8_lossy(&buf).into_owned()
            })
            .collect();
        for (values, dist) in series.iter() {
            let mut pairs = label_pairs(self.labels, values);
            if !self.bounds.is_empty() {
                for (le, count) in bounds.iter().zip(&dist.buckets) {
                    pairs.push(("le", le));
                    encoder.sample_with_suffix("_bucket", &pairs, *count as f64);
                    pairs.pop();
                }
                pairs.push(("le", "+Inf"));
                encoder.sample_with_suffix("_bucket", &pairs, dist.count as f64);
                pairs.pop();
            }
            encoder.sample_with_suffix("_sum", &pairs, dist.sum);
            encoder.sample_with_suffix("_count", &pairs, dist.count as f64);
        }
    }
}

/// `<name>_build_info{version, revision} 1`: which build is running.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// Metric name, e.g. `pve_exporter_build_info`.
    pub name: &'static str,
    /// HELP text, e.g. `Build information of pve-exporter.`.
    pub help: &'static str,
    /// The crate version.
    pub version: &'static str,
    /// The VCS revision the binary was built from, when known.
    pub revision: &'static str,
}

impl BuildInfo {
    /// Build info for `binary` (kebab-case) at `version`; the revision comes from the
    /// `PORTKEY_REVISION` variable at build time (set by the image build), else `unknown`.
    pub fn new(name: &'static str, help: &'static str, version: &'static str) -> BuildInfo {
        BuildInfo {
            name,
            help,
            version,
            revision: option_env!("PORTKEY_REVISION").unwrap_or("unknown"),
        }
    }
}

impl Collect for BuildInfo {
    fn collect(&self, encoder: &mut Encoder) {
        encoder.family(self.name, self.help, Kind::Gauge).sample(
            &[("revision", self.revision), ("version", self.version)],
            1.0,
        );
    }
}

/// The standard `process_*` metrics, read from `/proc/self` at collection time.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessMetrics;

impl Collect for ProcessMetrics {
    fn collect(&self, encoder: &mut Encoder) {
        let Some(stats) = crate::process::read() else {
            return;
        };
        encoder
            .family(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                Kind::Counter,
            )
            .sample(&[], stats.cpu_seconds);
        if let Some(fds) = stats.open_fds {
            encoder
                .family(
                    "process_open_fds",
                    "Number of open file descriptors.",
                    Kind::Gauge,
                )
                .sample(&[], fds as f64);
        }
        if let Some(max) = stats.max_fds {
            encoder
                .family(
                    "process_max_fds",
                    "Maximum number of open file descriptors.",
                    Kind::Gauge,
                )
                .sample(&[], max as f64);
        }
        encoder
            .family(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                Kind::Gauge,
            )
            .sample(&[], stats.virtual_bytes as f64);
        encoder
            .family(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                Kind::Gauge,
            )
            .sample(&[], stats.resident_bytes as f64);
        encoder
            .family(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                Kind::Gauge,
            )
            .sample(&[], stats.start_time_seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::Format;

    fn render(registry: &Registry) -> String {
        let mut encoder = Encoder::new(Format::Text);
        registry.collect(&mut encoder);
        String::from_utf8(encoder.finish()).unwrap()
    }

    #[test]
    fn counters_gauges_and_build_info() {
        let registry = Registry::new();
        let errors = registry.register(ValueFamily::counter(
            "x_errors_total",
            "Errors",
            &["module"],
        ));
        errors.touch(&["b"]);
        errors.inc(&["a"]);
        errors.add(&["a"], 2.0);
        registry.register(Arc::new(BuildInfo {
            name: "x_build_info",
            help: "Build information of x.",
            version: "1.2.3",
            revision: "abc",
        }));
        assert_eq!(errors.get(&["a"]), Some(3.0));
        assert_eq!(
            render(&registry),
            "# HELP x_errors_total Errors\n# TYPE x_errors_total counter\nx_errors_total{module=\"a\"} 3\nx_errors_total{module=\"b\"} 0\n\
             # HELP x_build_info Build information of x.\n# TYPE x_build_info gauge\nx_build_info{revision=\"abc\",version=\"1.2.3\"} 1\n"
        );
    }

    #[test]
    fn histograms_are_cumulative_and_summaries_have_no_buckets() {
        let registry = Registry::new();
        let h = registry.register(DistributionFamily::histogram(
            "h_seconds",
            "H",
            &["m"],
            &[0.1, 1.0],
        ));
        h.observe(&["a"], 0.05);
        h.observe(&["a"], 0.5);
        h.observe(&["a"], 5.0);
        let s = registry.register(DistributionFamily::summary("s_seconds", "S", &["m"]));
        s.touch(&["z"]);
        let out = render(&registry);
        assert!(
            out.contains("h_seconds_bucket{m=\"a\",le=\"0.1\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("h_seconds_bucket{m=\"a\",le=\"1\"} 2\n"));
        assert!(out.contains("h_seconds_bucket{m=\"a\",le=\"+Inf\"} 3\n"));
        assert!(out.contains("h_seconds_sum{m=\"a\"} 5.55\n"));
        assert!(out.contains("h_seconds_count{m=\"a\"} 3\n"));
        assert!(out.contains(
            "# TYPE s_seconds summary\ns_seconds_sum{m=\"z\"} 0\ns_seconds_count{m=\"z\"} 0\n"
        ));
    }

    #[test]
    fn process_metrics_are_present_on_linux() {
        let registry = Registry::new();
        registry.register(Arc::new(ProcessMetrics));
        let out = render(&registry);
        if cfg!(target_os = "linux") {
            for name in [
                "process_cpu_seconds_total",
                "process_resident_memory_bytes",
                "process_virtual_memory_bytes",
                "process_open_fds",
                "process_max_fds",
                "process_start_time_seconds",
            ] {
                assert!(
                    out.contains(&format!("\n{name} ")),
                    "{name} missing in {out}"
                );
            }
        }
    }
}

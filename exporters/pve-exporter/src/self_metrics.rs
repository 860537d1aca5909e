//! The exporter's own metrics on `/metrics` (spec §2.4).

use std::sync::Arc;

use portkey_kit::metrics::{BuildInfo, DistributionFamily, ProcessMetrics, Registry, ValueFamily};

use crate::api::ApiMetrics;

const API_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
const TARGET_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0, 100.0,
];

/// Handles on every self-metric the handler updates.
#[derive(Debug, Clone)]
pub struct SelfMetrics {
    /// The registry served on the telemetry path.
    pub registry: Registry,
    /// `pve_collection_duration_seconds{module}`.
    pub collection_duration: Arc<DistributionFamily>,
    /// `pve_request_errors_total{module}`.
    pub request_errors: Arc<ValueFamily>,
    /// API-call metrics, with `--collector.pve-api-metrics`.
    pub api: Option<ApiMetrics>,
    /// `pve_scrape_target_duration_seconds{target,cluster,node}`, with `--collector.target-metrics`.
    pub target_duration: Option<Arc<DistributionFamily>>,
    /// `pve_scrape_target_errors_total{target,cluster,node}`, with `--collector.target-metrics`.
    pub target_errors: Option<Arc<ValueFamily>>,
}

impl SelfMetrics {
    /// Registers every family, pre-initialised for `modules`.
    pub fn new<'a>(
        modules: impl Iterator<Item = &'a str>,
        api_metrics: bool,
        target_metrics: bool,
    ) -> SelfMetrics {
        let registry = Registry::new();
        let collection_duration = registry.register(DistributionFamily::summary(
            "pve_collection_duration_seconds",
            "Duration of collections by the PVE exporter",
            &["module"],
        ));
        let request_errors = registry.register(ValueFamily::counter(
            "pve_request_errors_total",
            "Errors in requests to PVE exporter",
            &["module"],
        ));
        for module in modules {
            collection_duration.touch(&[module]);
            request_errors.touch(&[module]);
        }
        let api = api_metrics.then(|| ApiMetrics {
            duration: registry.register(DistributionFamily::histogram(
                "pve_scrape_api_duration_seconds",
                "Duration of PVE API calls",
                &["method", "url"],
                API_BUCKETS,
            )),
            errors: registry.register(ValueFamily::counter(
                "pve_scrape_api_errors_total",
                "Number of errors occured in PVE API calls",
                &["method", "url"],
            )),
        });
        let (target_duration, target_errors) = if target_metrics {
            (
                Some(registry.register(DistributionFamily::histogram(
                    "pve_scrape_target_duration_seconds",
                    "Duration of a scrape",
                    &["target", "cluster", "node"],
                    TARGET_BUCKETS,
                ))),
                Some(registry.register(ValueFamily::counter(
                    "pve_scrape_target_errors_total",
                    "Number of errors occured when scraping a target",
                    &["target", "cluster", "node"],
                ))),
            )
        } else {
            (None, None)
        };
        registry.register(Arc::new(BuildInfo::new(
            "pve_exporter_build_info",
            "Build information of pve-exporter.",
            env!("CARGO_PKG_VERSION"),
        )));
        registry.register(Arc::new(ProcessMetrics));
        SelfMetrics {
            registry,
            collection_duration,
            request_errors,
            api,
            target_duration,
            target_errors,
        }
    }
}

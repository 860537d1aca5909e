//! The exporter's own metrics on the telemetry path (spec §2.13).

use std::sync::Arc;

use portkey_kit::metrics::{BuildInfo, DistributionFamily, ProcessMetrics, Registry, ValueFamily};

const COLLECTION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// 0.0001·2^k, k = 0..14, as upstream.
const PACKET_BUCKETS: &[f64] = &[
    0.0001, 0.0002, 0.0004, 0.0008, 0.0016, 0.0032, 0.0064, 0.0128, 0.0256, 0.0512, 0.1024, 0.2048,
    0.4096, 0.8192, 1.6384,
];

/// Handles on every self-metric the handler updates.
#[derive(Debug, Clone)]
pub struct SelfMetrics {
    /// The registry served on the telemetry path.
    pub registry: Registry,
    /// `snmp_collection_duration_seconds{module}`.
    pub collection_duration: Arc<DistributionFamily>,
    /// `snmp_packet_duration_seconds`.
    pub packet_duration: Arc<DistributionFamily>,
    /// `snmp_packets_total`.
    pub packets: Arc<ValueFamily>,
    /// `snmp_packet_retries_total`.
    pub retries: Arc<ValueFamily>,
    /// `snmp_request_errors_total`.
    pub request_errors: Arc<ValueFamily>,
    /// `snmp_unexpected_pdu_type_total`.
    pub unexpected_pdu_types: Arc<ValueFamily>,
    /// `snmp_request_in_flight`.
    pub in_flight: Arc<ValueFamily>,
    /// `snmp_duplicate_series_dropped_total{module}`.
    pub duplicates: Arc<ValueFamily>,
    /// `snmp_walk_failures_total{module,reason}`.
    pub walk_failures: Arc<ValueFamily>,
    /// `snmp_config_last_reload_successful`.
    pub reload_ok: Arc<ValueFamily>,
    /// `snmp_config_last_reload_success_timestamp_seconds`.
    pub reload_time: Arc<ValueFamily>,
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SelfMetrics {
    /// Registers every family.
    pub fn new() -> SelfMetrics {
        let registry = Registry::new();
        let metrics = SelfMetrics {
            collection_duration: registry.register(DistributionFamily::histogram(
                "snmp_collection_duration_seconds",
                "Duration of collections by the SNMP exporter",
                &["module"],
                COLLECTION_BUCKETS,
            )),
            packet_duration: registry.register(DistributionFamily::histogram(
                "snmp_packet_duration_seconds",
                "A histogram of latencies for SNMP packets.",
                &[],
                PACKET_BUCKETS,
            )),
            packets: registry.register(ValueFamily::counter(
                "snmp_packets_total",
                "Number of SNMP packet sent, including retries.",
                &[],
            )),
            retries: registry.register(ValueFamily::counter(
                "snmp_packet_retries_total",
                "Number of SNMP packet retries.",
                &[],
            )),
            request_errors: registry.register(ValueFamily::counter(
                "snmp_request_errors_total",
                "Errors in requests to the SNMP exporter",
                &[],
            )),
            unexpected_pdu_types: registry.register(ValueFamily::counter(
                "snmp_unexpected_pdu_type_total",
                "Unexpected Go types in a PDU.",
                &[],
            )),
            in_flight: registry.register(ValueFamily::gauge(
                "snmp_request_in_flight",
                "Current number of SNMP scrapes being requested.",
                &[],
            )),
            duplicates: registry.register(ValueFamily::counter(
                "snmp_duplicate_series_dropped_total",
                "Samples dropped because their series repeated an earlier one in the same scrape.",
                &["module"],
            )),
            walk_failures: registry.register(ValueFamily::counter(
                "snmp_walk_failures_total",
                "SNMP gets and walks that failed, by reason.",
                &["module", "reason"],
            )),
            reload_ok: registry.register(ValueFamily::gauge(
                "snmp_config_last_reload_successful",
                "Whether the last configuration reload attempt was successful.",
                &[],
            )),
            reload_time: registry.register(ValueFamily::gauge(
                "snmp_config_last_reload_success_timestamp_seconds",
                "Timestamp of the last successful configuration reload.",
                &[],
            )),
            registry,
        };
        for family in [
            &metrics.packets,
            &metrics.retries,
            &metrics.request_errors,
            &metrics.unexpected_pdu_types,
            &metrics.in_flight,
        ] {
            family.touch(&[]);
        }
        metrics.packet_duration.touch(&[]);
        metrics.registry.register(Arc::new(BuildInfo::new(
            "snmp_exporter_build_info",
            "A metric with a constant '1' value labeled by version and revision from which snmp-exporter was built.",
            env!("CARGO_PKG_VERSION"),
        )));
        metrics.registry.register(Arc::new(ProcessMetrics));
        metrics
    }

    /// Records a (re)load outcome.
    pub fn record_reload(&self, success: bool) {
        self.reload_ok.set(&[], if success { 1.0 } else { 0.0 });
        if success {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            self.reload_time.set(&[], now);
        }
    }
}

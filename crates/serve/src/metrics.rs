//! Prometheus counters of the server: requests by route and status, requests in flight, a latency
//! histogram, decisions by outcome, refused records, and the model version as a label.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Counts {
    requests: BTreeMap<(String, u16), u64>,
    in_flight: BTreeMap<String, u64>,
    /// Per route: bucket counts (cumulative at render time), sum and count.
    latency: BTreeMap<String, ([u64; BUCKETS.len()], f64, u64)>,
    decisions: BTreeMap<&'static str, u64>,
    rejected_records: u64,
}

#[derive(Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
}

impl Metrics {
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *c.requests.entry((route.to_string(), status)).or_default() += 1;
        let secs = elapsed.as_secs_f64();
        let entry = c
            .latency
            .entry(route.to_string())
            .or_insert(([0; BUCKETS.len()], 0.0, 0));
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            entry.0[i] += 1;
        }
        entry.1 += secs;
        entry.2 += 1;
    }

    /// Count a request of `route` as in flight until the returned guard drops (also when the
    /// client goes away mid-request and the handler is dropped).
    pub fn in_flight(&self, route: &str) -> InFlight<'_> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *c.in_flight.entry(route.to_string()).or_default() += 1;
        InFlight {
            metrics: self,
            route: route.to_string(),
        }
    }

    pub fn decision(&self, outcome: &'static str) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *c.decisions.entry(outcome).or_default() += 1;
    }

    pub fn rejected(&self, records: u64) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.rejected_records += records;
    }

    /// The Prometheus text exposition.
    pub fn render(&self, model_name: &str, model_version: &str) -> String {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        family(
            &mut out,
            "creditrisk_model_info",
            "The model being served.",
            "gauge",
        );
        let _ = writeln!(
            out,
            "creditrisk_model_info{{model_name=\"{}\",model_version=\"{}\"}} 1",
            escape(model_name),
            escape(model_version)
        );
        family(
            &mut out,
            "creditrisk_http_requests_total",
            "Requests by route and status.",
            "counter",
        );
        for ((route, status), n) in &c.requests {
            let _ = writeln!(
                out,
                "creditrisk_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        family(
            &mut out,
            "creditrisk_http_requests_in_flight",
            "Requests being handled, by route.",
            "gauge",
        );
        for (route, n) in &c.in_flight {
            let _ = writeln!(
                out,
                "creditrisk_http_requests_in_flight{{route=\"{}\"}} {n}",
                escape(route)
            );
        }
        family(
            &mut out,
            "creditrisk_http_request_duration_seconds",
            "Latency by route.",
            "histogram",
        );
        for (route, (buckets, sum, count)) in &c.latency {
            let route = escape(route);
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "creditrisk_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "creditrisk_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "creditrisk_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "creditrisk_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        family(
            &mut out,
            "creditrisk_decisions_total",
            "Decisions by outcome.",
            "counter",
        );
        for (outcome, n) in &c.decisions {
            let _ = writeln!(
                out,
                "creditrisk_decisions_total{{outcome=\"{outcome}\",model_version=\"{}\"}} {n}",
                escape(model_version)
            );
        }
        family(
            &mut out,
            "creditrisk_rejected_records_total",
            "Records refused (422).",
            "counter",
        );
        let _ = writeln!(
            out,
            "creditrisk_rejected_records_total {}",
            c.rejected_records
        );
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A request in flight (see [`Metrics::in_flight`]).
pub struct InFlight<'a> {
    metrics: &'a Metrics,
    route: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut c = self
            .metrics
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = c.in_flight.get_mut(&self.route) {
            *n = n.saturating_sub(1);
        }
    }
}

/// The `# HELP` and `# TYPE` lines that open a metric family.
fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

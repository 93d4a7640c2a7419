//! `creditrisk serve` on an ephemeral loopback port, talked to with reqwest: every status code,
//! online/offline parity with the scoring core, the audit log under concurrency, malformed
//! bodies, and reload under load.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use creditrisk_base::catalog::{Kind, RawTable};
use creditrisk_base::parquet_io;
use creditrisk_base::{Config, Layout};
use creditrisk_mlflow::ModelRef;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_model::{ModelBundle, ScoreOptions};
use creditrisk_serve::{self as serve, AppState, ServeOptions};
use serde_json::{Map, Value, json};

use crate::support;

pub(crate) const TOKEN: &str = "s3cret-token";

/// A synthetic project with a trained, registered model, shared by these tests.
pub(crate) struct Project {
    pub(crate) root: PathBuf,
    pub(crate) cfg: Config,
    pub(crate) model_dir: PathBuf,
    /// PD of the scoring core on each applicant's feature-store row.
    core_pd: HashMap<i64, f64>,
    /// application_train rows as JSON records (TARGET dropped, empty cells left out).
    pub(crate) records: Vec<Map<String, Value>>,
}

pub(crate) fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let (root, cfg, model_dir) = support::trained_project(1500, 5);
        let layout = Layout::new(&cfg);
        let bundle = ModelBundle::load(&model_dir).unwrap();
        let store = parquet_io::read_parquet(&layout.store_file, "").unwrap();
        let scored = bundle.score_batch(&store, ScoreOptions::default()).unwrap();
        let core_pd = scored.ids.iter().copied().zip(scored.pd).collect();
        let records = json_records(&layout.raw_file(RawTable::ApplicationTrain));
        Project {
            root,
            cfg,
            model_dir,
            core_pd,
            records,
        }
    })
}

/// Application CSV rows as JSON records typed by the catalog (TARGET dropped).
fn json_records(path: &std::path::Path) -> Vec<Map<String, Value>> {
    json_rows(path, RawTable::ApplicationTest)
}

/// CSV rows as JSON objects typed by `table`'s catalog columns (numbers as JSON numbers, empty
/// cells and columns outside the table left out).
fn json_rows(path: &std::path::Path, table: RawTable) -> Vec<Map<String, Value>> {
    let kinds: HashMap<&str, Kind> = table.columns().iter().map(|c| (c.name, c.kind)).collect();
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .filter(|(_, v)| !v.is_empty())
                .filter_map(|(h, v)| {
                    let value = match kinds.get(h)? {
                        Kind::Int => json!(v.parse::<i64>().unwrap()),
                        Kind::Float => json!(v.parse::<f64>().unwrap()),
                        Kind::Text => json!(v),
                    };
                    Some((h.to_string(), value))
                })
                .collect()
        })
        .collect()
}

pub(crate) struct Running {
    base: String,
    state: Arc<AppState>,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<creditrisk_base::Result<()>>,
    audit: PathBuf,
}

impl Running {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let handle = self.handle;
        support::runtime()
            .block_on(async { tokio::time::timeout(Duration::from_secs(20), handle).await })
            .expect("server stops within 20 s")
            .unwrap()
            .unwrap();
    }
}

pub(crate) fn start(name: &str, reference: ModelRef, edit: impl FnOnce(&mut Config)) -> Running {
    let p = project();
    let mut cfg = p.cfg.clone();
    cfg.serving.audit_log = p.root.join(format!("audit-{name}.jsonl"));
    cfg.serving.auth_token_env = String::new();
    edit(&mut cfg);
    let opts = ServeOptions::from_config(&cfg);
    let rt = support::runtime();
    let server = rt
        .block_on(serve::bind(
            &Layout::new(&cfg),
            &opts,
            &reference,
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    let base = format!("http://{}", server.addr);
    let state = server.state.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = rt.spawn(server.run(async {
        let _ = stopped.await;
    }));
    Running {
        base,
        state,
        stop,
        handle,
        audit: opts.audit_log,
    }
}

pub(crate) fn path_ref() -> ModelRef {
    ModelRef::Path(project().model_dir.clone())
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Run `work` on the shared runtime, failing the test after two minutes.
pub(crate) fn bounded<T>(work: impl Future<Output = T>) -> T {
    support::runtime()
        .block_on(async { tokio::time::timeout(Duration::from_secs(120), work).await })
        .expect("test finished within 120 s")
}

pub(crate) async fn post(
    c: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let r = c
        .post(url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

pub(crate) async fn get(c: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut r = c.get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

pub(crate) fn body(records: &[Map<String, Value>]) -> String {
    json!({ "records": records }).to_string()
}

#[test]
fn serve_answers_every_route_with_the_right_status() {
    let p = project();
    let s = start("routes", path_ref(), |cfg| {
        cfg.serving.auth_token = TOKEN.into();
        cfg.serving.max_body_bytes = 200_000;
        cfg.serving.max_records = 20;
    });
    let c = client();
    bounded(async {
        // Open routes need no token; the others do.
        assert_eq!(get(&c, &s.url("/health"), None).await.0, 200);
        assert_eq!(get(&c, &s.url("/ready"), None).await.0, 200);
        for route in ["/metadata", "/schema", "/openapi.json", "/metrics"] {
            assert_eq!(get(&c, &s.url(route), None).await.0, 401, "{route}");
            assert_eq!(
                get(&c, &s.url(route), Some("wrong")).await.0,
                401,
                "{route}"
            );
            assert_eq!(get(&c, &s.url(route), Some(TOKEN)).await.0, 200, "{route}");
        }
        let unauthorised = c
            .post(s.url("/predict"))
            .body(body(&p.records[..1]))
            .send()
            .await
            .unwrap();
        assert_eq!(unauthorised.status().as_u16(), 401);

        let (_, meta) = get(&c, &s.url("/metadata"), Some(TOKEN)).await;
        let meta: Value = serde_json::from_str(&meta).unwrap();
        let bundle = ModelBundle::load(&p.model_dir).unwrap();
        assert_eq!(meta["bundle_sha256"], json!(bundle.bundle_sha256));
        assert_eq!(
            meta["feature_sql_sha256"],
            json!(bundle.feature_sql.sha256())
        );
        assert_eq!(meta["model_version"], json!("path"));
        assert_eq!(meta["threshold"], json!(bundle.card.decision_threshold));
        assert!(meta["training_date"].is_string() && meta["run_id"].is_string());

        let (_, schema) = get(&c, &s.url("/schema"), Some(TOKEN)).await;
        let schema: Value = serde_json::from_str(&schema).unwrap();
        let record = &schema["properties"]["records"]["items"];
        assert_eq!(record["properties"]["SK_ID_CURR"]["type"], json!("integer"));
        assert_eq!(record["additionalProperties"], json!(false));
        assert!(
            record["required"]
                .as_array()
                .unwrap()
                .contains(&json!("SK_ID_CURR"))
        );

        // 200: validate and predict, with the request id echoed or generated.
        let (status, v) = post(&c, &s.url("/validate"), body(&p.records[..3])).await;
        assert_eq!((status, v["valid"].clone()), (200, json!(true)), "{v}");
        let r = c
            .post(s.url("/predict"))
            .bearer_auth(TOKEN)
            .header("x-request-id", "abc-123")
            .body(body(&p.records[..2]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["x-request-id"], "abc-123");
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(v["request_id"], json!("abc-123"));
        let predictions = v["predictions"].as_array().unwrap();
        assert_eq!(predictions.len(), 2);
        for pr in predictions {
            assert!(pr["PD"].as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)));
            assert!(matches!(
                pr["decision"].as_str(),
                Some("approve" | "decline")
            ));
            assert!(pr["band"].is_string());
            assert_eq!(
                pr["reasons"].as_array().unwrap().len(),
                bundle.card.reason_codes
            );
            // Every reason code carries its reviewed adverse-action statement.
            for reason in pr["reasons"].as_array().unwrap() {
                let feature = reason["feature"].as_str().unwrap();
                let text = &bundle.reason_statements.statements[feature].text;
                let statement = reason["statement"].as_str().unwrap();
                assert!(statement.starts_with(text.as_str()), "{reason}");
            }
        }
        let r = c.get(s.url("/health")).send().await.unwrap();
        assert!(!r.headers()["x-request-id"].is_empty());
        // A what-if threshold of 0 declines everyone.
        let (status, v) = post(
            &c,
            &s.url("/predict"),
            json!({"records": &p.records[..2], "threshold": 0.0}).to_string(),
        )
        .await;
        assert_eq!(status, 200);
        assert!(
            v["predictions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["decision"] == "decline")
        );

        // 400 malformed JSON.
        let (status, v) = post(&c, &s.url("/predict"), "{\"records\": [").await;
        assert_eq!(status, 400);
        assert!(v["error"].as_str().unwrap().contains("malformed JSON"));
        // 413: body and record count.
        let (status, v) = post(&c, &s.url("/predict"), " ".repeat(200_001)).await;
        assert_eq!(status, 413, "{v}");
        assert!(v["error"].as_str().unwrap().contains("max_body_bytes"));
        let (status, v) = post(&c, &s.url("/predict"), body(&p.records[..21])).await;
        assert_eq!(status, 413, "{v}");
        assert!(v["error"].as_str().unwrap().contains("max_records"));
        // 422: per record and field.
        let mut bad = p.records[..3].to_vec();
        bad[1].insert("AMT_CREDIT".into(), json!("lots"));
        bad[2].insert("DAYS_BIRTH".into(), json!(120));
        let layout = Layout::new(&p.cfg);
        let mut line = json_rows(&layout.raw_file(RawTable::Bureau), RawTable::Bureau)[0].clone();
        line.insert("SK_ID_CURR".into(), json!(1));
        line.insert("DAYS_CREDIT".into(), json!(3));
        bad[2].insert("bureau".into(), json!([line]));
        let month = json!({"SK_ID_BUREAU": 999_999_999, "MONTHS_BALANCE": -1, "STATUS": "0"});
        bad[2].insert("bureau_balance".into(), json!([month]));
        bad[2].insert("POS_CASH_balance".into(), json!({}));
        bad[2].insert("NAME_CONTRACT_TYPE".into(), json!(true));
        let (status, v) = post(&c, &s.url("/predict"), body(&bad)).await;
        assert_eq!(status, 422, "{v}");
        let problems: HashSet<(u64, String)> = v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                assert!(p["reason"].is_string() && p["allowed"].is_string(), "{p}");
                (
                    p["record"].as_u64().unwrap(),
                    p["field"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected: HashSet<(u64, String)> = [
            (1, "AMT_CREDIT"),
            (2, "DAYS_BIRTH"),
            (2, "bureau[0].SK_ID_CURR"),
            (2, "bureau[0].DAYS_CREDIT"),
            (2, "bureau_balance[0].SK_ID_BUREAU"),
            (2, "POS_CASH_balance"),
            (2, "NAME_CONTRACT_TYPE"),
        ]
        .into_iter()
        .map(|(r, f)| (r, f.to_string()))
        .collect();
        assert_eq!(problems, expected, "{v}");
        let (status, _) = post(&c, &s.url("/validate"), body(&bad)).await;
        assert_eq!(status, 422);
        // 404 and 403 (reload without a token configured is tested below; here it works).
        assert_eq!(get(&c, &s.url("/nope"), Some(TOKEN)).await.0, 404);
        let (status, v) = post(&c, &s.url("/admin/reload"), "").await;
        assert_eq!(status, 200, "{v}");
        let r = c.post(s.url("/admin/reload")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);

        // Metrics count what happened.
        let (_, m) = get(&c, &s.url("/metrics"), Some(TOKEN)).await;
        assert!(
            m.contains("creditrisk_http_requests_total{route=\"/predict\",status=\"200\"} 2"),
            "{m}"
        );
        assert!(
            m.contains("creditrisk_http_requests_total{route=\"/predict\",status=\"422\"} 1"),
            "{m}"
        );
        assert!(
            m.contains("creditrisk_http_requests_total{route=\"/predict\",status=\"413\"} 2"),
            "{m}"
        );
        assert!(
            m.contains(
                "creditrisk_http_request_duration_seconds_bucket{route=\"/predict\",le=\"+Inf\"}"
            ),
            "{m}"
        );
        // Only this /metrics request is in flight.
        assert!(
            m.contains("creditrisk_http_requests_in_flight{route=\"/predict\"} 0")
                && m.contains("creditrisk_http_requests_in_flight{route=\"/metrics\"} 1"),
            "{m}"
        );
        assert!(
            m.contains("creditrisk_decisions_total{outcome=\"decline\",model_version=\"path\"}"),
            "{m}"
        );
        assert!(m.contains("creditrisk_rejected_records_total 4"), "{m}");
        assert!(m.contains("creditrisk_model_info{model_name="), "{m}");
    });
    s.stop();

    // No token configured: reload is refused (403); a 1 ms budget times a request out (503).
    let s = start("timeout", path_ref(), |cfg| {
        cfg.serving.request_timeout_ms = 1;
        cfg.serving.max_body_bytes = 8_000_000;
    });
    bounded(async {
        let (status, _) = post(&c, &s.url("/admin/reload"), "").await;
        assert_eq!(status, 403);
        let (status, v) = post(&c, &s.url("/predict"), body(&p.records[..500])).await;
        assert_eq!(status, 503, "{v}");
        assert!(v["error"].as_str().unwrap().contains("request_timeout_ms"));
    });
    s.stop();
}

#[test]
fn predict_gives_the_scoring_core_pd_of_every_applicant() {
    let p = project();
    let s = start("parity", path_ref(), |cfg| {
        cfg.serving.max_body_bytes = 8_000_000
    });
    let c = client();
    let answered = bounded(async {
        let mut answered = HashMap::new();
        for chunk in p.records.chunks(500) {
            let (status, v) = post(&c, &s.url("/predict"), body(chunk)).await;
            assert_eq!(status, 200, "{v}");
            for pr in v["predictions"].as_array().unwrap() {
                answered.insert(
                    pr["SK_ID_CURR"].as_i64().unwrap(),
                    pr["PD"].as_f64().unwrap(),
                );
            }
        }
        answered
    });
    s.stop();
    assert_eq!(answered.len(), p.records.len());
    for (id, pd) in &answered {
        assert_eq!(*pd, p.core_pd[id], "SK_ID_CURR {id}");
    }
}

#[test]
fn concurrent_predictions_leave_one_well_formed_audit_line_each() {
    let p = project();
    // Generous timeout: the tests share 2 cores with training runs.
    let s = start("audit", path_ref(), |cfg| {
        cfg.serving.request_timeout_ms = 120_000
    });
    let c = client();
    const N: usize = 48;
    let ids: Vec<String> = bounded(async {
        let mut tasks = vec![];
        for i in 0..N {
            let c = c.clone();
            let url = s.url("/predict");
            let records = body(&p.records[i * 2..i * 2 + 2]);
            tasks.push(tokio::spawn(async move {
                let r = c
                    .post(url)
                    .header("x-request-id", format!("req-{i}"))
                    .body(records)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
                r.headers()["x-request-id"].to_str().unwrap().to_string()
            }));
        }
        let mut ids = vec![];
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids
    });
    let audit = s.audit.clone();
    let bundle_sha = s.state.model().bundle.bundle_sha256.clone();
    s.stop();
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 2 * N);
    let mut per_request: HashMap<String, usize> = HashMap::new();
    for l in &lines {
        *per_request
            .entry(l["request_id"].as_str().unwrap().to_string())
            .or_default() += 1;
        assert_eq!(l["bundle_sha256"], json!(bundle_sha));
        assert_eq!(l["input_sha256"].as_str().unwrap().len(), 64);
        assert!(l["PD"].is_f64() && l["decision"].is_string() && l["time"].is_string());
        assert!(l["reasons"].is_array() && l["model_version"] == "path");
    }
    assert_eq!(per_request.len(), N);
    assert!(ids.iter().all(|id| per_request[id] == 2));
}

/// Await every future concurrently, answers in order.
async fn futures_join<T: Send + 'static>(
    work: impl Iterator<Item = impl Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let tasks: Vec<_> = work.map(tokio::spawn).collect();
    let mut out = vec![];
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Small deterministic generator (no extra crate).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next() as usize % items.len()]
    }
}

fn malformed_bodies(p: &Project, n: usize) -> Vec<String> {
    let mut rng = Lcg(7);
    let fields = [
        "SK_ID_CURR",
        "AMT_CREDIT",
        "DAYS_BIRTH",
        "NAME_CONTRACT_TYPE",
        "EXT_SOURCE_1",
        "CNT_CHILDREN",
        "zzz",
        "bureau",
        "bureau_balance",
        "POS_CASH_balance",
        "ÄÖ€𝄞",
    ];
    let values = [
        json!("NaN"),
        json!("Infinity"),
        json!("-inf"),
        json!(1e308),
        json!(-1e308),
        json!(u64::MAX),
        json!(i64::MIN),
        json!("9".repeat(400)),
        json!(true),
        json!([1, 2]),
        json!({"a": 1}),
        json!("ünïcødé 𝄞 \u{0}"),
        json!(""),
        json!(-1),
        json!(0.5),
        json!(null),
        json!([{"SK_ID_BUREAU": "x", "DAYS_CREDIT": 5}]),
        json!([{"SK_ID_BUREAU": 1, "MONTHS_BALANCE": 0, "STATUS": "Q"}]),
        json!([{"SK_ID_CURR": 1}, 7, [[[[]]]]]),
        json!([{"zzz": {"deep": [[[1]]]}}]),
    ];
    // Never a valid AMT_CREDIT (a finite number >= 0).
    let invalid = [
        json!("NaN"),
        json!("Infinity"),
        json!("-inf"),
        json!(-1e308),
        json!("9".repeat(400)),
        json!(true),
        json!([1, 2]),
        json!({"a": 1}),
        json!("ünïcødé 𝄞"),
        json!(-1),
    ];
    let mut bodies = vec![
        String::new(),
        "null".into(),
        "[]".into(),
        "{}".into(),
        "\"records\"".into(),
        "{\"records\": {}}".into(),
        "{\"records\": []}".into(),
        "{\"records\": [1, \"x\", null]}".into(),
        "{\"records\": [{}]}".into(),
        "{\"records\": [], \"threshold\": 2}".into(),
        "{\"records\": [{\"SK_ID_CURR\": 1e999}]}".into(),
        "{\"records\": [{\"SK_ID_CURR\": NaN}]}".into(),
        "\u{feff}{\"records\": []}".into(),
        format!("{}{}", "[".repeat(5000), "]".repeat(5000)),
        format!(
            "{{\"records\": [{}]}}",
            "{\"a\":".repeat(300) + "1" + &"}".repeat(300)
        ),
        json!({"records": vec![json!({}); 10_000]}).to_string(),
        json!({"records": &p.records[..1], "extra": 1}).to_string(),
        json!({"records": &p.records[..1], "threshold": "0.5"}).to_string(),
    ];
    while bodies.len() < n {
        let mut records: Vec<Map<String, Value>> = (0..1 + rng.next() % 3)
            .map(|_| p.records[rng.next() as usize % p.records.len()].clone())
            .collect();
        for r in records.iter_mut() {
            match rng.next() % 3 {
                0 => {
                    r.remove(*rng.pick(&fields));
                    r.remove("SK_ID_CURR");
                }
                _ => {
                    r.insert(rng.pick(&fields).to_string(), rng.pick(&values).clone());
                }
            }
        }
        // Make sure every body is wrong: one record always carries an invalid value.
        records[0].insert("AMT_CREDIT".into(), rng.pick(&invalid).clone());
        let mut text = body(&records);
        if rng.next().is_multiple_of(5) {
            let cut = rng.next() as usize % text.len();
            text.truncate(text.floor_char_boundary(cut));
        }
        bodies.push(text);
    }
    bodies
}

#[test]
fn malformed_bodies_always_get_a_4xx_with_a_message() {
    let p = project();
    let s = start("malformed", path_ref(), |cfg| {
        cfg.serving.max_body_bytes = 4_000_000
    });
    let c = client();
    let bodies = malformed_bodies(p, 3000);
    bounded(async {
        // Eight at a time, as eight clients would.
        for batch in bodies.chunks(8) {
            let answers = batch.iter().map(|b| {
                let (c, url) = (c.clone(), s.url("/predict"));
                let b = b.clone();
                async move { (post(&c, &url, b.clone()).await, b) }
            });
            for ((status, v), b) in futures_join(answers).await {
                assert!(
                    (400..500).contains(&status),
                    "{status} for {}: {v}",
                    &b[..b.len().min(300)]
                );
                assert!(
                    v["error"].as_str().is_some_and(|m| !m.is_empty()),
                    "no message for {}: {v}",
                    &b[..b.len().min(300)]
                );
            }
        }
        // Still serving.
        let (status, _) = post(&c, &s.url("/predict"), body(&p.records[..1])).await;
        assert_eq!(status, 200);
    });
    s.stop();
}

#[test]
fn reload_swaps_in_a_new_version_under_load() {
    let p = project();
    let name = TrackingOptions::from_config(&p.cfg).registry.model_name;
    let s = start("reload", ModelRef::Latest { name }, |cfg| {
        cfg.serving.auth_token = TOKEN.into();
        cfg.serving.request_timeout_ms = 120_000;
    });
    let c = client();
    let before: Value = bounded(async {
        serde_json::from_str(&get(&c, &s.url("/metadata"), Some(TOKEN)).await.1).unwrap()
    });
    // A new version is registered (another training run).
    let trained = support::train(&p.cfg).unwrap();
    let new_version = trained.registered_version.unwrap();
    bounded(async {
        let load: Vec<_> = (0..4)
            .map(|w| {
                let c = c.clone();
                let url = s.url("/predict");
                let records = body(&p.records[w * 3..w * 3 + 3]);
                tokio::spawn(async move {
                    for _ in 0..15 {
                        let (status, v) = post(&c, &url, records.clone()).await;
                        assert_eq!(status, 200, "{v}");
                    }
                })
            })
            .collect();
        let (status, v) = post(&c, &s.url("/admin/reload"), "").await;
        assert_eq!(status, 200, "{v}");
        for t in load {
            t.await.unwrap();
        }
    });
    let after: Value = bounded(async {
        serde_json::from_str(&get(&c, &s.url("/metadata"), Some(TOKEN)).await.1).unwrap()
    });
    s.stop();
    assert_ne!(before["model_version"], after["model_version"]);
    assert_eq!(after["model_version"], json!(new_version.to_string()));
}

/// Every applicant of the project (train and test) as a record carrying all six history arrays
/// from the raw files (an applicant without rows in a table gets an empty array).
fn records_with_history(layout: &Layout) -> Vec<Map<String, Value>> {
    let rows = |table: RawTable| json_rows(&layout.raw_file(table), table);
    let id = |row: &Map<String, Value>, column: &str| row[column].as_i64().unwrap();
    let bureau = rows(RawTable::Bureau);
    let line_owner: HashMap<i64, i64> = bureau
        .iter()
        .map(|r| (id(r, "SK_ID_BUREAU"), id(r, "SK_ID_CURR")))
        .collect();
    let mut history: HashMap<(i64, &str), Vec<Value>> = HashMap::new();
    for (table, field) in serve::request::history_tables() {
        let table_rows = if table == RawTable::Bureau {
            bureau.clone()
        } else {
            rows(table)
        };
        for row in table_rows {
            // Orphan balance months (no bureau line) belong to no applicant, as in the store.
            let owner = match table {
                RawTable::BureauBalance => line_owner.get(&id(&row, "SK_ID_BUREAU")).copied(),
                _ => Some(id(&row, "SK_ID_CURR")),
            };
            if let Some(owner) = owner {
                history
                    .entry((owner, field))
                    .or_default()
                    .push(Value::Object(row));
            }
        }
    }
    let mut records = json_records(&layout.raw_file(RawTable::ApplicationTrain));
    records.extend(json_records(&layout.raw_file(RawTable::ApplicationTest)));
    for r in records.iter_mut() {
        let applicant = id(r, "SK_ID_CURR");
        for (_, field) in serve::request::history_tables() {
            let rows = history.remove(&(applicant, field)).unwrap_or_default();
            r.insert(field.to_string(), Value::Array(rows));
        }
    }
    records
}

#[test]
fn predict_with_history_arrays_equals_the_store_row_and_batch_predict() {
    let p = project();
    let layout = Layout::new(&p.cfg);
    let records = records_with_history(&layout);
    let s = start("history", path_ref(), |cfg| {
        cfg.serving.max_body_bytes = 64_000_000;
        cfg.serving.request_timeout_ms = 120_000;
    });
    let c = client();
    let answered: HashMap<i64, (f64, Value)> = bounded(async {
        let mut answered = HashMap::new();
        for chunk in records.chunks(150) {
            let request = json!({"records": chunk, "return_features": true}).to_string();
            let (status, v) = post(&c, &s.url("/predict"), request).await;
            assert_eq!(status, 200, "{v}");
            let predictions = v["predictions"].as_array().unwrap();
            // Answers come in request order.
            for (record, pr) in chunk.iter().zip(predictions) {
                assert_eq!(pr["SK_ID_CURR"], record["SK_ID_CURR"]);
                answered.insert(
                    pr["SK_ID_CURR"].as_i64().unwrap(),
                    (pr["PD"].as_f64().unwrap(), pr["features"].clone()),
                );
            }
        }
        answered
    });
    s.stop();

    // Features: equal to the store row, bit for bit, every column but the label and the split
    // flag (the store's feature SQL adds an applicant's rows up in file order, as a request does).
    let store = parquet_io::read_parquet(&layout.store_file, "").unwrap();
    let store_rows = serve::request::feature_rows(&store).unwrap();
    assert_eq!(answered.len(), store_rows.len());
    for row in &store_rows {
        let id = row["SK_ID_CURR"].as_i64().unwrap();
        let online = answered[&id].1.as_object().unwrap();
        let offline = row.as_object().unwrap();
        assert_eq!(online.len(), offline.len());
        for (column, value) in offline {
            if column != "TARGET" && column != "IS_TRAIN" {
                assert_eq!(&online[column], value, "SK_ID_CURR {id}, {column}");
            }
        }
        assert_eq!(answered[&id].0, p.core_pd[&id], "PD of SK_ID_CURR {id}");
    }

    // PD: equal to batch-predict's on the same rows (history from the same raw files).
    for table in [RawTable::ApplicationTrain, RawTable::ApplicationTest] {
        let output = p.root.join(format!("history-{}.parquet", table.name()));
        let request = creditrisk_ops::predict::PredictRequest {
            model: path_ref(),
            input: layout.raw_file(table),
            output: output.clone(),
            threshold: None,
            history: creditrisk_ops::predict::History::Dir(layout.raw_dir.clone()),
        };
        let opts = creditrisk_ops::predict::PredictOptions::from_config(&p.cfg);
        let summary = support::runtime()
            .block_on(creditrisk_ops::predict::run(&layout, &opts, &request))
            .unwrap();
        assert_eq!(summary.rows_rejected, 0);
        let batch = parquet_io::read_parquet(&output, "").unwrap();
        for (id, pd) in crate::predict::ids_and_pd(&batch) {
            assert_eq!(pd, answered[&id].0, "SK_ID_CURR {id}");
        }
    }
}

/// The binary, killed if the test fails before it exits.
pub(crate) struct Child(pub(crate) std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_lets_in_flight_requests_finish_and_logs_json_without_applicant_data() {
    use std::io::BufRead;
    let p = project();
    let configs = p.root.join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    let manifest = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    std::fs::copy(
        manifest.join("configs/baseline.yaml"),
        configs.join("baseline.yaml"),
    )
    .unwrap();
    let audit = p.root.join("audit-sigterm.jsonl");
    let mut child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_creditrisk"))
            .arg("serve")
            .arg("--config")
            .arg(configs.join("baseline.yaml"))
            .arg("--model")
            .arg(&p.model_dir)
            .args(["--bind", "127.0.0.1:0"])
            .envs([
                ("CREDITRISK__PATHS__RAW_DIR", "raw"),
                ("CREDITRISK__PATHS__PROCESSED_DIR", "processed"),
                ("CREDITRISK__PATHS__REPORTS_DIR", "reports"),
                ("CREDITRISK__PATHS__CACHE_DIR", "cache"),
                (
                    "CREDITRISK__FEATURES__STORE_FILE",
                    "processed/feature_store.parquet",
                ),
                ("CREDITRISK__SERVING__AUDIT_LOG", "audit-sigterm.jsonl"),
                ("CREDITRISK__SERVING__REQUEST_TIMEOUT_MS", "120000"),
                ("CREDITRISK__SERVING__MAX_BODY_BYTES", "16000000"),
                ("CREDITRISK__SERVING__AUTH_TOKEN", TOKEN),
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.0.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.unwrap();
            let _ = lines_tx.send(line.clone());
        }
    });
    let mut log = vec![];
    let addr = loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server logs its address within 60 s");
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        log.push(event.clone());
        if event["fields"]["message"] == "serving" {
            break event["fields"]["addr"].as_str().unwrap().to_string();
        }
    };
    let url = format!("http://{addr}/predict");
    let c = client();
    const N: usize = 6;
    let pid = child.0.id().to_string();
    let finished_after_term = bounded(async {
        let mut tasks = vec![];
        for i in 0..N {
            let (c, url) = (c.clone(), url.clone());
            let records = body(&p.records[i * 100..i * 100 + 900]);
            tasks.push(tokio::spawn(async move {
                let (status, v) = post(&c, &url, records).await;
                assert_eq!(status, 200, "{v}");
                assert_eq!(v["predictions"].as_array().unwrap().len(), 900);
                std::time::Instant::now()
            }));
        }
        // SIGTERM only once every request is in the server's hands (in flight or answered): one
        // still queued in the listen backlog would rightly be refused, not finished. Read from
        // the server's own in-flight gauge and request counter.
        let metrics_url = url.replace("/predict", "/metrics");
        let value = |m: &str, series: &str| -> usize {
            m.lines()
                .find_map(|l| l.strip_prefix(series))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        loop {
            let (_, m) = get(&c, &metrics_url, Some(TOKEN)).await;
            let in_flight = value(&m, "creditrisk_http_requests_in_flight{route=\"/predict\"}");
            let done = value(
                &m,
                "creditrisk_http_requests_total{route=\"/predict\",status=\"200\"}",
            );
            if in_flight + done == N {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let term = std::time::Instant::now();
        // The shell's own `kill`: no procps needed.
        let killed = std::process::Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(killed.success());
        let mut after = 0;
        for t in tasks {
            if t.await.unwrap() > term {
                after += 1;
            }
        }
        after
    });
    assert!(
        finished_after_term > 0,
        "no request was still in flight at SIGTERM"
    );
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status}");
    reader.join().unwrap();
    log.extend(
        lines_rx
            .try_iter()
            .map(|l| serde_json::from_str::<Value>(&l).unwrap()),
    );
    let requests: Vec<&Value> = log
        .iter()
        .filter(|e| e["fields"]["message"] == "request" && e["fields"]["route"] != "/metrics")
        .collect();
    assert_eq!(requests.len(), N);
    assert!(requests.iter().all(|e| e["fields"]["status"] == 200
        && e["fields"]["route"] == "/predict"
        && e["fields"]["request_id"].is_string()
        && e["fields"]["latency_us"].is_u64()));
    assert_eq!(log.last().unwrap()["fields"]["message"], "stopped");
    // No applicant data in the log: no column name, no applicant id.
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains("SK_ID_CURR") && !text.contains("AMT_CREDIT"));
    let audited = std::fs::read_to_string(&audit).unwrap().lines().count();
    assert_eq!(audited, N * 900);
}

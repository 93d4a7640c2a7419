//! `creditrisk serve` against hostile clients, over raw sockets: slow headers, slow bodies and
//! idle keep-alive connections are closed within the configured timeouts, an oversized
//! Content-Length is refused before the body is read, idle sockets beyond the open-file limit do
//! not lock out `/health`, implausible inputs get a 422 naming the feature, abandoned scoring
//! stops, and a non-loopback bind without a token is refused.

use std::io::BufRead;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::serve::{Child, TOKEN, body, bounded, client, get, path_ref, post, project, start};

/// Write `request`, then read until the server closes the connection (at most 10 s): what it
/// sent and how long the close took.
async fn until_closed(addr: &str, request: &[u8]) -> (String, Duration) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    });
    read.await
        .expect("the server closes the connection within 10 s");
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn slow_and_idle_clients_are_closed_within_the_timeouts() {
    let s = start("slow-clients", path_ref(), |cfg| {
        cfg.serving.header_timeout_ms = 300;
        cfg.serving.body_timeout_ms = 300;
        cfg.serving.max_body_bytes = 4096;
    });
    let addr = s.url("").trim_start_matches("http://").to_string();
    bounded(async {
        // Headers that never end: closed after the header timeout, nothing answered.
        let (answer, took) = until_closed(&addr, b"GET /health HTTP/1.1\r\nHost: a\r\n").await;
        assert!(answer.is_empty(), "{answer}");
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");

        // An answered keep-alive connection left idle: closed after the header timeout too.
        let (answer, took) = until_closed(&addr, b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(took < Duration::from_secs(3), "{took:?}");

        // A body that never arrives: 408 after the body timeout, and the connection closed.
        let slow_body = b"POST /validate HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\
                          Content-Length: 100\r\n\r\n{\"rec";
        let (answer, took) = until_closed(&addr, slow_body).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("serving.body_timeout_ms"), "{answer}");
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");

        // A declared length over the limit: 413 at once, before any body byte is sent.
        let huge = b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\
                     Content-Length: 1000000000\r\n\r\n";
        let (answer, took) = until_closed(&addr, huge).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("serving.max_body_bytes"), "{answer}");
        assert!(took < Duration::from_millis(250), "{took:?}");

        // A chunked body without a length, over the limit: 413 as well.
        let mut chunked =
            b"POST /validate HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..3 {
            chunked.extend_from_slice(format!("800\r\n{}\r\n", "x".repeat(0x800)).as_bytes());
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let (answer, _) = until_closed(&addr, &chunked).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    });
    s.stop();
}

/// `creditrisk serve` as its own process with at most `open_files` descriptors (the shell's
/// `ulimit -n`), on the shared project; returns it and its address once it logs "serving".
fn serve_process(name: &str, open_files: u32, env: &[(&str, &str)]) -> (Child, String) {
    let p = project();
    let configs = p.root.join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    let manifest = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let config = configs.join("baseline.yaml");
    if !config.exists() {
        std::fs::copy(manifest.join("configs/baseline.yaml"), &config).unwrap();
    }
    let audit = format!("audit-{name}.jsonl");
    let script = format!("ulimit -n {open_files} && exec \"$0\" \"$@\"");
    let mut child = Child(
        std::process::Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_creditrisk"), "serve"])
            .arg("--config")
            .arg(&config)
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
                ("CREDITRISK__SERVING__AUDIT_LOG", audit.as_str()),
            ])
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server logs its address within 60 s");
        let event: Value = serde_json::from_str(&line).unwrap_or_default();
        if event["fields"]["message"] == "serving" {
            break event["fields"]["addr"].as_str().unwrap().to_string();
        }
    };
    (child, addr)
}

#[test]
fn idle_sockets_beyond_the_open_file_limit_do_not_lock_out_health() {
    let (child, addr) = serve_process("idle-sockets", 1024, &[]);
    let latencies = bounded(async {
        let mut idle = Vec::with_capacity(1100);
        for _ in 0..1100 {
            let connect = TcpStream::connect(&addr);
            match tokio::time::timeout(Duration::from_secs(5), connect).await {
                Ok(Ok(stream)) => idle.push(stream),
                other => panic!("connection {} failed: {other:?}", idle.len()),
            }
        }
        // Let the server take them all in from its backlog.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let mut latencies = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let (status, text) = get(&fresh, &format!("http://{addr}/health"), None).await;
            assert_eq!(status, 200, "{text}");
            latencies.push(started.elapsed());
        }
        drop(idle);
        latencies
    });
    drop(child);
    let mut sorted = latencies.clone();
    sorted.sort();
    assert!(
        sorted[sorted.len() / 2] < Duration::from_millis(100),
        "/health took {latencies:?} with 1,100 idle sockets open"
    );
}

#[test]
fn implausible_inputs_are_refused_naming_the_feature() {
    let p = project();
    let mut record = p.records[0].clone();
    record.insert("AMT_INCOME_TOTAL".into(), json!(1e308));
    let strict = start("implausible", path_ref(), |cfg| {
        cfg.serving.auth_token = TOKEN.into();
    });
    let c = client();
    let (status, v) = bounded(post(
        &c,
        &strict.url("/predict"),
        body(std::slice::from_ref(&record)),
    ));
    strict.stop();
    assert_eq!(status, 422, "{v}");
    let problems = v["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|q| q["field"] == "AMT_INCOME_TOTAL" && q["record"] == 0),
        "{v}"
    );
    assert!(
        v["problems"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("serving.plausibility_factor"),
        "{v}"
    );
    // An ordinary record passes, and the check can be turned off.
    let (status, v) = {
        let s = start("plausible", path_ref(), |cfg| {
            cfg.serving.auth_token = TOKEN.into();
        });
        let answer = bounded(post(&c, &s.url("/predict"), body(&p.records[..20])));
        s.stop();
        answer
    };
    assert_eq!(status, 200, "{v}");
    let off = start("plausibility-off", path_ref(), |cfg| {
        cfg.serving.auth_token = TOKEN.into();
        cfg.serving.plausibility_factor = 0.0;
    });
    let (status, v) = bounded(post(
        &c,
        &off.url("/predict"),
        body(std::slice::from_ref(&record)),
    ));
    off.stop();
    assert_ne!(status, 422, "{v}");
}

#[test]
fn abandoned_scoring_stops_and_chunked_scoring_equals_whole() {
    use creditrisk_model::{Cancel, ModelBundle, ScoreOptions, score, score_until};
    use std::sync::Arc;
    let p = project();
    let bundle = Arc::new(ModelBundle::load(&p.model_dir).unwrap());
    let layout = creditrisk_base::Layout::new(&p.cfg);
    let store = creditrisk_base::parquet_io::read_parquet(&layout.store_file, "").unwrap();
    assert!(store.num_rows() > 600, "several chunks");
    let options = ScoreOptions {
        explain: true,
        threshold: None,
    };
    let (whole, chunked, stopped) = bounded(async {
        let whole = score(bundle.clone(), store.clone(), options).await.unwrap();
        let chunked = score_until(bundle.clone(), store.clone(), options, Cancel::default())
            .await
            .unwrap();
        let cancel = Cancel::default();
        drop(cancel.on_drop());
        let stopped = score_until(bundle.clone(), store.clone(), options, cancel).await;
        (whole, chunked, stopped)
    });
    assert_eq!(whole, chunked);
    let e = stopped.expect_err("a cancelled scoring stops");
    assert!(e.to_string().contains("caller is gone"), "{e}");
}

#[test]
fn a_non_loopback_bind_without_a_token_is_refused() {
    let p = project();
    let configs = p.root.join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    let config = configs.join("baseline.yaml");
    if !config.exists() {
        let manifest = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        std::fs::copy(manifest.join("configs/baseline.yaml"), &config).unwrap();
    }
    // Refused before anything binds: no socket is opened beyond loopback.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_creditrisk"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--model")
        .arg(&p.model_dir)
        .args(["--bind", "0.0.0.0:0"])
        .env_remove("CREDITRISK_SERVING_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--allow-unauthenticated") && stderr.contains("serving.auth_token"),
        "{stderr}"
    );
}

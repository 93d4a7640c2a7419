//! The audit log through the real binary: a file-size limit reached mid-write (a full disk),
//! kill -9 under load, and tampering. No torn line ever stays, no decision is answered without
//! its line, the hash chain verifies and continues across restarts, and `creditrisk audit
//! verify` names the first bad line.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Resource, Rlimit, Signal, getrlimit, kill_process, prlimit};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::serve::{TOKEN, body, bounded, client, project};
use crate::support;

const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `creditrisk audit verify` with `args`: exit code, stdout, stderr.
fn audit_verify(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_creditrisk"))
        .args(["audit", "verify"])
        .args(args)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// `creditrisk audit verify --log LOG` passes; the last seq it prints.
fn verified_seq(log: &Path) -> u64 {
    let (code, stdout, stderr) = audit_verify(&["--log".as_ref(), log.as_os_str()]);
    assert_eq!(code, Some(0), "audit verify of {}: {stderr}", log.display());
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("last seq: "))
        .unwrap_or_else(|| panic!("no last seq in {stdout}"))
        .parse()
        .unwrap()
}

/// sha256 in lowercase hex.
fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Every line of `log`, checked by the documented recipe, not the server's code: complete, JSON,
/// `BODY,"sha256":"H"}` with H the sha256 of `BODY}`, seq 1, 2, 3 …, each prev_sha256 the line
/// before's sha256.
fn chained_lines(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "a torn last line");
    let mut prev = ZEROS.to_string();
    let mut lines = vec![];
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {n}: {e}"));
        let (body, tail) = line.rsplit_once(",\"sha256\":\"").unwrap();
        let h = tail.strip_suffix("\"}").unwrap();
        assert_eq!(sha256(format!("{body}}}").as_bytes()), h, "line {n}");
        let chained = format!(",\"seq\":{n},\"prev_sha256\":\"{prev}\"");
        assert!(body.ends_with(&chained), "line {n}: {line}");
        prev = h.to_string();
        lines.push(v);
    }
    lines
}

/// POST /predict with request id `id`: status and answer, or the transport error (server gone).
async fn predict(
    c: &reqwest::Client,
    url: &str,
    id: &str,
    body: String,
) -> Result<(u16, Value), reqwest::Error> {
    let r = c
        .post(url)
        .bearer_auth(TOKEN)
        .header("x-request-id", id)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

fn serve(log: &Path, work: &Path) -> support::ServeProcess {
    let p = project();
    support::serve_binary(
        &p.root,
        &p.model_dir,
        work,
        &[
            ("CREDITRISK__SERVING__AUDIT_LOG", log.to_str().unwrap()),
            ("CREDITRISK__SERVING__REQUEST_TIMEOUT_MS", "120000"),
            ("CREDITRISK__SERVING__AUTH_TOKEN", TOKEN),
        ],
    )
}

/// SIGTERM, and it exits cleanly.
fn stop(mut served: support::ServeProcess) {
    kill_process(served.pid(), Signal::TERM).unwrap();
    let (status, events) = served.wait();
    assert!(status.success(), "{status}: {events:?}");
}

/// Decisions of each request id in the log.
fn per_request(lines: &[Value]) -> HashMap<String, usize> {
    let mut count = HashMap::new();
    for l in lines {
        *count
            .entry(l["request_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    count
}

#[test]
fn a_file_size_limit_fails_requests_never_tears_the_log_and_the_chain_resumes() {
    let p = project();
    let work = support::kept_dir();
    let log = work.join("audit/decisions.jsonl");
    let served = serve(&log, &work);
    let url = format!("http://{}/predict", served.addr);
    let pid = served.pid();
    let hard = getrlimit(Resource::Fsize).maximum;
    let c = client();
    let (answered, failed, limit) = bounded(async {
        let mut answered: Vec<(String, usize)> = vec![];
        let mut failed: Vec<String> = vec![];
        for i in 0..2 {
            let id = format!("room-{i}");
            let (status, v) = predict(&c, &url, &id, body(&p.records[i..i + 1]))
                .await
                .unwrap();
            assert_eq!(status, 200, "{v}");
            answered.push((id, 1));
        }
        // The disk fills up: a file-size limit two and a half lines above the log's size (the
        // server ignores SIGXFSZ, so writes past it fail with EFBIG).
        let size = std::fs::metadata(&log).unwrap().len();
        let limit = size + size * 5 / 4;
        let soft = Rlimit {
            current: Some(limit),
            maximum: hard,
        };
        prlimit(Some(pid), Resource::Fsize, soft).unwrap();
        for i in 0..60 {
            let n = 1 + i % 3;
            let id = format!("full-{i}");
            let records = &p.records[10 + i * 3..10 + i * 3 + n];
            let (status, v) = predict(&c, &url, &id, body(records)).await.unwrap();
            match status {
                200 => answered.push((id, n)),
                500..=599 => {
                    let message = v["error"].as_str().unwrap_or_default();
                    assert!(message.contains("audit log"), "{status}: {v}");
                    failed.push(id);
                }
                _ => panic!("{status}: {v}"),
            }
            // Whole lines only, while full.
            let bytes = std::fs::read(&log).unwrap();
            assert_eq!(bytes.last(), Some(&b'\n'), "torn while full");
            assert!(bytes.len() as u64 <= limit);
            if failed.len() >= 5 {
                break;
            }
        }
        assert!(
            failed.len() >= 5,
            "fewer than 5 requests failed with a file-size limit of {limit} bytes"
        );
        chained_lines(&log);
        // Space returns: the next requests are answered and audited.
        let room = Rlimit {
            current: hard,
            maximum: hard,
        };
        prlimit(Some(pid), Resource::Fsize, room).unwrap();
        for i in 0..5 {
            let id = format!("again-{i}");
            let (status, v) = predict(&c, &url, &id, body(&p.records[300 + i..302 + i]))
                .await
                .unwrap();
            assert_eq!(status, 200, "{v}");
            answered.push((id, 2));
        }
        (answered, failed, limit)
    });
    stop(served);
    let lines = chained_lines(&log);
    let decisions: usize = answered.iter().map(|(_, n)| n).sum();
    assert_eq!(lines.len(), decisions, "one line per decision answered 200");
    let logged = per_request(&lines);
    for (id, n) in &answered {
        assert_eq!(logged.get(id), Some(n), "{id}");
    }
    for id in &failed {
        assert!(!logged.contains_key(id), "{id} failed but is in the log");
    }
    assert_eq!(verified_seq(&log), decisions as u64);
    println!(
        "limit {limit} bytes: {} requests answered, {} failed, {decisions} lines",
        answered.len(),
        failed.len()
    );
}

#[test]
fn kill_9_under_load_leaves_a_chain_that_verifies_and_continues() {
    const KILLS: usize = 12;
    const CLIENTS: usize = 4;
    let p = project();
    let work = support::kept_dir();
    let log = work.join("audit/decisions.jsonl");
    let started = Instant::now();
    let mut answered: Vec<String> = vec![];
    let mut last_seq = 0;
    let mut torn = 0;
    let mut made = 0;
    for round in 0..=KILLS {
        let before = std::fs::read(&log).unwrap_or_default();
        let tail_torn = before.last().is_some_and(|&b| b != b'\n');
        let mut served = serve(&log, &work);
        if tail_torn {
            // The restart cut the torn line off, and said so.
            torn += 1;
            let kept = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let warned = (served.log.iter())
                .find(|e| e["level"] == "WARN" && e["fields"]["dropped_bytes"].is_u64())
                .unwrap_or_else(|| panic!("no warning of the torn line: {:?}", served.log));
            assert_eq!(
                warned["fields"]["dropped_bytes"],
                json!(before.len() - kept),
                "{warned}"
            );
        }
        // Idle (nothing written until a request comes): the log verifies, seq never goes back.
        let seq = verified_seq(&log);
        assert!(seq >= last_seq, "seq {seq} after {last_seq}");
        last_seq = seq;
        let url = format!("http://{}/predict", served.addr);
        if round == KILLS {
            // The chain continues after the last restart.
            let (status, v) =
                bounded(predict(&client(), &url, "last", body(&p.records[..1]))).unwrap();
            assert_eq!(status, 200, "{v}");
            stop(served);
            assert_eq!(verified_seq(&log), last_seq + 1);
            break;
        }
        let pid = served.pid();
        let ok = bounded(async {
            let done = Arc::new(AtomicUsize::new(0));
            let load: Vec<_> = (0..CLIENTS)
                .map(|k| {
                    let (c, url, done) = (client(), url.clone(), done.clone());
                    tokio::spawn(async move {
                        let mut ok = vec![];
                        for j in 0.. {
                            let id = format!("k{round}-{k}-{j}");
                            let at = (round * 31 + k * 7 + j * 3) % 1000;
                            let records = body(&p.records[at..at + 1 + j % 3]);
                            match predict(&c, &url, &id, records).await {
                                Ok((200, _)) => {
                                    ok.push(id);
                                    done.fetch_add(1, Ordering::Relaxed);
                                }
                                Ok((status, v)) => panic!("{status}: {v}"),
                                Err(_) => break,
                            }
                        }
                        ok
                    })
                })
                .collect();
            // Kill at a different moment each round, once some answers are in.
            while done.load(Ordering::Relaxed) < 2 + round % 5 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis((round as u64 * 7) % 25)).await;
            kill_process(pid, Signal::KILL).unwrap();
            let mut ok = vec![];
            for t in load {
                ok.extend(t.await.unwrap());
            }
            ok
        });
        let (status, _) = served.wait();
        assert_eq!(status.code(), None, "killed by a signal");
        answered.extend(ok);
        // A kill rarely cuts a write of a few lines short; a power cut can. Every third round
        // leaves what it would: the first half of a line, no newline.
        let text = std::fs::read(&log).unwrap();
        if round % 3 == 1 && text.last() == Some(&b'\n') {
            let start = text[..text.len() - 1]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let half = &text[start..start + (text.len() - start) / 2];
            let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            std::io::Write::write_all(&mut file, half).unwrap();
            made += 1;
        }
    }
    // Every answered request is in the log, whole.
    let lines = chained_lines(&log);
    let logged = per_request(&lines);
    for id in &answered {
        assert!(
            logged.contains_key(id),
            "{id} answered 200 but not in the log"
        );
    }
    assert_eq!(lines.len() as u64, last_seq + 1);
    let elapsed = started.elapsed();
    println!(
        "{KILLS} kills in {elapsed:?}: {} requests answered, {} lines, {torn} torn tails cut off \
         ({} made by the test)",
        answered.len(),
        lines.len(),
        made
    );
    assert!(
        made > 0 && torn >= made,
        "the torn tails made were not all cut off"
    );
    assert!(elapsed < Duration::from_secs(120), "{elapsed:?}");
}

/// `n` chained lines written by the documented recipe alone.
fn recipe_log(n: usize) -> Vec<String> {
    let mut prev = ZEROS.to_string();
    (1..=n)
        .map(|seq| {
            let record = json!({
                "PD": 0.01 * seq as f64, "SK_ID_CURR": 100_000 + seq, "band": "B",
                "bundle_sha256": "0f", "decision": "approve", "input_sha256": null,
                "model_name": "pd", "model_version": "1", "reasons": [],
                "request_id": format!("r{seq}"), "threshold": 0.5,
                "time": "2026-01-01T00:00:00.000000Z",
            })
            .to_string();
            let body = format!(
                "{},\"seq\":{seq},\"prev_sha256\":\"{prev}\"",
                record.strip_suffix('}').unwrap()
            );
            prev = sha256(format!("{body}}}").as_bytes());
            format!("{body},\"sha256\":\"{prev}\"}}")
        })
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

#[test]
fn audit_verify_names_the_line_edited_deleted_or_torn() {
    let work = support::kept_dir();
    let lines = recipe_log(5);
    // The configured log (serving.audit_log, relative to the project root), read through the
    // config like serve reads it.
    let configs = work.join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    let manifest = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    std::fs::copy(
        manifest.join("configs/baseline.yaml"),
        configs.join("baseline.yaml"),
    )
    .unwrap();
    write_lines(&work.join("reports/audit/decisions.jsonl"), &lines);
    let out = Command::new(env!("CARGO_BIN_EXE_creditrisk"))
        .arg("--config")
        .arg(configs.join("baseline.yaml"))
        .args(["audit", "verify"])
        .env_remove("CREDITRISK__SERVING__AUDIT_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = lines[4]
        .rsplit_once(":\"")
        .unwrap()
        .1
        .strip_suffix("\"}")
        .unwrap();
    assert!(
        stdout.contains("lines: 5") && stdout.contains("last seq: 5"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("last sha256: {last}")), "{stdout}");

    let log = work.join("tampered.jsonl");
    let refused = |lines: &[String], torn: bool| {
        write_lines(&log, lines);
        if torn {
            let bytes = std::fs::read(&log).unwrap();
            std::fs::write(&log, &bytes[..bytes.len() - 10]).unwrap();
        }
        let (code, _, stderr) = audit_verify(&["--log".as_ref(), log.as_os_str()]);
        assert_eq!(code, Some(1), "{stderr}");
        stderr
    };
    let mut edited = lines.clone();
    edited[1] = edited[1].replace("\"decision\":\"approve\"", "\"decision\":\"decline\"");
    let e = refused(&edited, false);
    assert!(e.contains("line 2 was edited"), "{e}");
    let mut deleted = lines.clone();
    deleted.remove(2);
    let e = refused(&deleted, false);
    assert!(e.contains("line 3 has seq 4, expected 3"), "{e}");
    let e = refused(&lines, true);
    assert!(e.contains("line 5 is torn"), "{e}");
    let mut garbage = lines.clone();
    garbage.insert(1, "<html>".into());
    let e = refused(&garbage, false);
    assert!(e.contains("line 2 is not a JSON object"), "{e}");
}

#[test]
fn request_ids_are_kept_only_when_short_and_plain() {
    let p = project();
    let work = support::kept_dir();
    let log = work.join("audit/decisions.jsonl");
    let served = serve(&log, &work);
    let url = format!("http://{}/predict", served.addr);
    let c = client();
    let longest = "a".repeat(64);
    let too_long = "a".repeat(65);
    let cases = [
        ("abc-123", true),
        ("Req.7_x:y-Z", true),
        (longest.as_str(), true),
        (too_long.as_str(), false),
        ("", false),
        ("has space", false),
        ("a/b", false),
        ("x\"},{\"PD\":0", false),
        ("<script>", false),
    ];
    let echoed = bounded(async {
        let mut echoed = vec![];
        for (i, (given, _)) in cases.iter().enumerate() {
            let r = c
                .post(&url)
                .bearer_auth(TOKEN)
                .header("x-request-id", *given)
                .body(body(&p.records[i..i + 1]))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let header = r.headers()["x-request-id"].to_str().unwrap().to_string();
            let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            assert_eq!(v["request_id"], json!(header));
            echoed.push(header);
        }
        echoed
    });
    stop(served);
    let lines = chained_lines(&log);
    for ((given, kept), (header, line)) in cases.iter().zip(echoed.iter().zip(&lines)) {
        assert_eq!(line["request_id"], json!(header));
        if *kept {
            assert_eq!(header, given);
        } else {
            assert_ne!(header, given);
            // Generated: <boot time>-<counter>, hex.
            assert!(
                header.len() == 27 && header.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'),
                "{header}"
            );
        }
    }
}

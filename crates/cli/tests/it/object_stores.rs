//! Raw data in real object stores, started here on 127.0.0.1 and killed at the end: moto's
//! S3-compatible server (pinned in the cached virtualenv, scripts/python-env.sh) and Azurite
//! (pinned, from npm, scripts/azurite.sh). `ingest` and `build-feature-store` read the objects
//! directly and give the same feature store as the local build of the same files; a wrong
//! checksum, a missing object and refused credentials are one-line errors naming the URI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support;
use crate::tracking::{Group, free_port, pyenv, run_bounded};

/// Synthetic raw CSVs and their local feature store, made once per test binary.
pub(crate) struct Fixture {
    pub(crate) raw_dir: PathBuf,
    pub(crate) local_store: PathBuf,
}

pub(crate) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = project(|t| t);
        let out = cli(&root, &["synth", "--rows", "600", "--seed", "11"], &[]);
        assert!(out.status.success(), "synth: {}", stderr(&out));
        let local_store = root.join("data/processed/local.parquet");
        let out = cli(
            &root,
            &[
                "build-feature-store",
                "--output",
                "data/processed/local.parquet",
            ],
            &[],
        );
        assert!(out.status.success(), "local build: {}", stderr(&out));
        Fixture {
            raw_dir: root.join("data/raw"),
            local_store,
        }
    })
}

/// A project in a [`support::kept_dir`] with the repository's config, edited.
pub(crate) fn project(edit: impl Fn(String) -> String) -> PathBuf {
    let root = support::kept_dir();
    let baseline =
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("configs/baseline.yaml");
    let text = edit(std::fs::read_to_string(baseline).unwrap());
    std::fs::create_dir_all(root.join("configs")).unwrap();
    std::fs::write(root.join("configs/baseline.yaml"), text).unwrap();
    std::fs::create_dir_all(root.join("sql")).unwrap();
    let sql = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("sql");
    for entry in std::fs::read_dir(sql).unwrap().flatten() {
        std::fs::copy(entry.path(), root.join("sql").join(entry.file_name())).unwrap();
    }
    root
}

/// The config with raw files and sources at `base` (e.g. `s3://bucket/raw`) and `endpoint`.
pub(crate) fn remote_config(base: &str, endpoint: Option<&str>) -> impl Fn(String) -> String {
    let base = base.to_string();
    let endpoint = endpoint.map(str::to_string);
    move |text: String| {
        let endpoint = format!("endpoint: \"{}\"", endpoint.as_deref().unwrap_or(""));
        text.replace("raw_dir: data/raw", &format!("raw_dir: {base}"))
            .replace("endpoint: \"\"", &endpoint)
            .replace("uri: data/raw/", &format!("uri: {base}/"))
    }
}

/// Run the binary in `root` with extra environment, within 5 minutes.
pub(crate) fn cli(root: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_creditrisk"));
    cmd.current_dir(root)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut group = Group::spawn(cmd);
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = group.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "creditrisk {args:?}: no result in 300 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    }
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 1 and one `error:` line holding every needle.
fn assert_error(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    for needle in needles {
        assert!(line.contains(needle), "missing `{needle}` in: {line}");
    }
}

/// Wait until `port` accepts connections, or panic with the server's log.
fn wait_for_port(port: u16, group: &mut Group, log: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = group.child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} exited ({status}):\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} not listening within 90 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server process and its folder, killed and removed at the end.
pub(crate) struct Server {
    pub(crate) port: u16,
    _group: Group,
    _dir: tempfile::TempDir,
}

pub(crate) fn start_moto() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("moto.log");
    let mut cmd = Command::new(pyenv().join("bin/moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.path().join("moto.err")).unwrap())
        .stdin(Stdio::null());
    let mut group = Group::spawn(cmd);
    wait_for_port(
        port,
        &mut group,
        &dir.path().join("moto.err"),
        "moto_server",
    );
    Server {
        port,
        _group: group,
        _dir: dir,
    }
}

fn azurite() -> &'static Path {
    static AZURITE: OnceLock<PathBuf> = OnceLock::new();
    AZURITE.get_or_init(|| {
        let script =
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("scripts/azurite.sh");
        let (out, _) = run_bounded(
            Command::new(script),
            Duration::from_secs(600),
            "scripts/azurite.sh",
        );
        PathBuf::from(
            out.lines()
                .last()
                .expect("azurite.sh prints its path")
                .trim(),
        )
    })
}

pub(crate) fn start_azurite() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("azurite.log");
    let mut cmd = Command::new(azurite());
    cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .arg("--location")
        .arg(dir.path().join("data"))
        .args(["--skipApiVersionCheck", "--silent", "--disableTelemetry"])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.path().join("azurite.err")).unwrap())
        .stdin(Stdio::null());
    let mut group = Group::spawn(cmd);
    wait_for_port(port, &mut group, &dir.path().join("azurite.err"), "azurite");
    Server {
        port,
        _group: group,
        _dir: dir,
    }
}

/// Azurite's published development account (the emulator's fixed, public key).
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Upload every file of `dir` under `raw/` with the vendors' own Python clients.
fn upload_s3(port: u16, bucket: &str, dir: &Path) {
    let script = r#"
import os, sys, boto3
endpoint, bucket, folder = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                  aws_secret_access_key="testing", region_name="us-east-1")
s3.create_bucket(Bucket=bucket)
for name in sorted(os.listdir(folder)):
    s3.upload_file(os.path.join(folder, name), bucket, "raw/" + name)
print("{}")
"#;
    upload(script, &format!("http://127.0.0.1:{port}"), bucket, dir);
}

fn upload_azure(port: u16, container: &str, dir: &Path) {
    let script = r#"
import os, sys
from azure.storage.blob import BlobServiceClient
endpoint, container, folder, key = sys.argv[1:5]
cs = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key +
      ";BlobEndpoint=" + endpoint + "/devstoreaccount1;")
c = BlobServiceClient.from_connection_string(cs).create_container(container)
for name in sorted(os.listdir(folder)):
    with open(os.path.join(folder, name), "rb") as f:
        c.upload_blob("raw/" + name, f)
print("{}")
"#;
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(pyenv().join("bin/python"));
    cmd.arg("-c")
        .arg(script)
        .args([endpoint.as_str(), container])
        .arg(dir)
        .arg(AZURITE_KEY);
    run_bounded(cmd, Duration::from_secs(120), "azure upload");
}

fn upload(script: &str, endpoint: &str, bucket: &str, dir: &Path) {
    let mut cmd = Command::new(pyenv().join("bin/python"));
    cmd.arg("-c")
        .arg(script)
        .args([endpoint, bucket])
        .arg(dir)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    run_bounded(cmd, Duration::from_secs(120), "s3 upload");
}

pub(crate) fn s3_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

fn azure_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
        (
            "AZURITE_BLOB_STORAGE_URL",
            format!("http://127.0.0.1:{port}"),
        ),
    ]
}

/// The store a remote build wrote equals the local build's, bit for bit.
fn assert_same_store(root: &Path, name: &str) {
    let local =
        creditrisk_base::parquet_io::read_parquet(&fixture().local_store, "local store").unwrap();
    let remote =
        creditrisk_base::parquet_io::read_parquet(&root.join(name), "remote store").unwrap();
    assert_eq!(local.schema(), remote.schema());
    assert_eq!(local.num_rows(), remote.num_rows());
    assert!(local == remote, "the stores differ");
}

/// ingest + build-feature-store from `base`, then the failure cases every store shares.
fn remote_round_trip(base: &str, endpoint: Option<&str>, env: &[(&str, String)]) {
    let root = project(remote_config(base, endpoint));
    let out = cli(&root, &["ingest"], env);
    assert!(out.status.success(), "ingest: {}", stderr(&out));
    // Streamed, not downloaded: raw_dir is the store, so nothing lands on disk.
    assert!(!root.join("data/raw").exists());
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("reports/ingestion_summary.json")).unwrap(),
    )
    .unwrap();
    for source in summary["sources"].as_array().unwrap() {
        let uri = source["uri"].as_str().unwrap();
        let name = uri.rsplit('/').next().unwrap();
        let local = creditrisk_base::io::digest_file(&fixture().raw_dir.join(name)).unwrap();
        assert_eq!(source["sha256"], local.sha256.as_str(), "{uri}");
        assert_eq!(source["md5"], local.md5.as_str(), "{uri}");
        assert_eq!(source["bytes"], local.bytes, "{uri}");
        assert_eq!(source["rows"], local.lines - 1, "{uri}");
    }
    let out = cli(
        &root,
        &[
            "build-feature-store",
            "--output",
            "data/processed/remote.parquet",
        ],
        env,
    );
    assert!(out.status.success(), "build: {}", stderr(&out));
    assert_same_store(&root, "data/processed/remote.parquet");
    let lineage = std::fs::read_to_string(root.join("reports/data_lineage.json")).unwrap();
    assert!(lineage.contains(&format!("{base}/bureau.csv")), "{lineage}");

    // A wrong pinned checksum names the object.
    let bureau = format!("{base}/bureau.csv");
    let pinned = project(|t| {
        remote_config(base, endpoint)(t).replace(
            &format!("uri: {bureau} }}"),
            &format!("uri: {bureau}, sha256: \"{}\" }}", "0".repeat(64)),
        )
    });
    let out = cli(&pinned, &["ingest"], env);
    assert_error(&out, &[&bureau, "sha256 mismatch"]);

    // A missing object: ingest and build both name it.
    let missing = format!("{base}/nope/bureau.csv");
    let gone = project(|t| {
        remote_config(base, endpoint)(t)
            .replace(&format!("uri: {bureau} }}"), &format!("uri: {missing} }}"))
    });
    let out = cli(&gone, &["ingest"], env);
    assert_error(&out, &[&missing, "not found"]);
    let empty = project(remote_config(&format!("{base}/nothing-here"), endpoint));
    let out = cli(&empty, &["build-feature-store"], env);
    assert_error(&out, &[&format!("{base}/nothing-here/"), "not found"]);
    assert!(!empty.join("data/processed/feature_store.parquet").exists());
}

#[test]
fn s3_compatible_server_gives_the_local_feature_store() {
    let data = fixture();
    let moto = start_moto();
    upload_s3(moto.port, "creditrisk", &data.raw_dir);
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    remote_round_trip("s3://creditrisk/raw", Some(&endpoint), &s3_env());
}

#[test]
fn azurite_gives_the_local_feature_store_and_refuses_bad_credentials() {
    let data = fixture();
    let server = start_azurite();
    upload_azure(server.port, "creditrisk", &data.raw_dir);
    let env = azure_env(server.port);
    remote_round_trip("az://creditrisk/raw", None, &env);

    // A wrong account key: Azurite checks the shared-key signature.
    let root = project(remote_config("az://creditrisk/raw", None));
    let mut bad = env.clone();
    bad.push((
        "AZURE_STORAGE_ACCOUNT_KEY",
        "d3Jvbmcta2V5LWZvci10aGUtdGVzdA==".into(),
    ));
    let out = cli(&root, &["ingest"], &bad);
    assert_error(&out, &["az://creditrisk/raw/", "credentials were refused"]);
    let out = cli(&root, &["build-feature-store"], &bad);
    assert_error(&out, &["az://creditrisk/raw/", "credentials were refused"]);
}

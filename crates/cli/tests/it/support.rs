//! Synchronous wrappers over the async stage entry points, as the CLI wires them, so tests read
//! like the commands they exercise. The library creates no runtime; tests share one here.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use creditrisk_base::progress::Silent;
use creditrisk_base::{Config, Layout, Result, Split};
use creditrisk_data::features::{FeatureStoreOptions, FeatureStoreSummary};
use creditrisk_ops::evaluate::EvalSummary;
use creditrisk_ops::pipeline::DemoSummary;
use creditrisk_ops::split::{SplitOptions, SplitSummary};
use creditrisk_ops::train::{TrainOptions, TrainSummary};
use creditrisk_synth::{SynthOptions, SynthSummary};

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// A folder for files that outlive one test (the fixtures shared through statics, which are never
/// dropped): `creditrisk-it-<pid>` in the temp folder. A watcher process removes it once this
/// test binary has exited, and the first call removes any left by a binary that was killed, so
/// test runs leave nothing behind.
pub fn scratch() -> &'static Path {
    static SCRATCH: OnceLock<PathBuf> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let tmp = std::env::temp_dir();
        let pid = std::process::id();
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(owner) = name.strip_prefix("creditrisk-it-") else {
                continue;
            };
            if !Path::new("/proc").join(owner).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let root = tmp.join(format!("creditrisk-it-{pid}"));
        std::fs::create_dir_all(&root).unwrap();
        let watch = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; rm -rf '{}'",
            root.display()
        );
        // Not waited for: it outlives this process by design (init reaps it).
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &watch])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the scratch folder's watcher");
        root
    })
}

/// A new folder in [`scratch`], kept until the test binary exits.
pub fn kept_dir() -> PathBuf {
    tempfile::tempdir_in(scratch()).unwrap().keep()
}

pub fn layout(cfg: &Config) -> Layout {
    Layout::new(cfg)
}

pub fn synth(opts: &SynthOptions) -> Result<SynthSummary> {
    creditrisk_synth::run(opts, &Silent)
}

pub fn build_feature_store(cfg: &Config) -> Result<FeatureStoreSummary> {
    runtime().block_on(creditrisk_data::features::build_feature_store(
        &layout(cfg),
        &FeatureStoreOptions::from_config(cfg),
        &Silent,
    ))
}

pub fn split(cfg: &Config) -> Result<SplitSummary> {
    creditrisk_ops::split::run(&layout(cfg), &SplitOptions::from_config(cfg))
}

pub fn train(cfg: &Config) -> Result<TrainSummary> {
    runtime().block_on(creditrisk_ops::train::run(
        &layout(cfg),
        &TrainOptions::from_config(cfg),
    ))
}

pub fn evaluate(cfg: &Config, split: Split) -> Result<EvalSummary> {
    runtime().block_on(creditrisk_ops::evaluate::run(
        &layout(cfg),
        &creditrisk_ops::evaluate::EvaluateOptions::from_config(cfg),
        split,
    ))
}

pub fn demo(cfg: &Config) -> Result<DemoSummary> {
    runtime().block_on(creditrisk_ops::pipeline::demo(cfg, &Silent))
}

/// A synthetic project in a [`kept_dir`]: `rows` applicants made with `seed`, its
/// feature store, splits and a trained, registered model. Returns the root, the config and the
/// model's bundle folder.
pub fn trained_project(rows: usize, seed: u64) -> (PathBuf, Config, PathBuf) {
    let root = kept_dir();
    let mut cfg = crate::features::test_config(&root);
    cfg.paths.models_dir = root.join("models");
    let layout = Layout::new(&cfg);
    let opts = SynthOptions::new(
        rows,
        seed,
        layout.raw_dir.clone(),
        root.join("truth.parquet"),
    );
    synth(&opts).unwrap();
    build_feature_store(&cfg).unwrap();
    split(&cfg).unwrap();
    let model_dir = train(&cfg).unwrap().model_dir;
    (root, cfg, model_dir)
}

/// A project for the binary at `root`: the repository's `configs/baseline.yaml` in
/// `root/configs/` (paths in it are relative to `root`).
pub fn baseline_project(root: &Path) {
    let manifest = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    std::fs::create_dir_all(root.join("configs")).unwrap();
    let config = root.join("configs/baseline.yaml");
    std::fs::copy(manifest.join("configs/baseline.yaml"), config).unwrap();
}

/// `creditrisk ARGS` in the [`baseline_project`] at `root`, as a user runs it there.
pub fn creditrisk(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_creditrisk"));
    cmd.args(args)
        .current_dir(root)
        .env("CREDITRISK_CONFIG", root.join("configs/baseline.yaml"));
    cmd
}

/// Copy the project at `from` to `to` (cheaper than making it again). `from`'s path becomes
/// `to`'s in the MLflow store's `meta.yaml` files (runs' artifact locations, versions' sources),
/// so the copy's runs and registered bundles are its own.
pub fn copy_project(from: &Path, to: &Path) {
    let (old, new) = (from.display().to_string(), to.display().to_string());
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        std::fs::create_dir_all(to.join(&rel)).unwrap();
        for entry in std::fs::read_dir(from.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let rel = rel.join(entry.file_name());
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(rel);
            } else if kind.is_symlink() {
                let target = std::fs::read_link(entry.path()).unwrap();
                std::os::unix::fs::symlink(target, to.join(&rel)).unwrap();
            } else if rel.starts_with("mlruns") && entry.file_name() == "meta.yaml" {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                std::fs::write(to.join(&rel), text.replace(&old, &new)).unwrap();
            } else {
                std::fs::copy(entry.path(), to.join(&rel)).unwrap();
            }
        }
    }
}

/// `creditrisk serve` as its own process; killed (SIGKILL) and reaped when dropped, so a failing
/// test leaves no server behind.
pub struct ServeProcess {
    pub child: std::process::Child,
    /// HOST:PORT it listens on.
    pub addr: String,
    /// Its stderr events (one JSON object a line) up to and including "serving".
    pub log: Vec<serde_json::Value>,
    lines: Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ServeProcess {
    pub fn pid(&self) -> rustix::process::Pid {
        rustix::process::Pid::from_child(&self.child)
    }

    /// Wait for it to exit: its status and the stderr events after "serving".
    pub fn wait(&mut self) -> (ExitStatus, Vec<serde_json::Value>) {
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let events = self
            .lines
            .try_iter()
            .map(|l| serde_json::from_str(&l).unwrap_or(serde_json::Value::String(l)))
            .collect();
        (status, events)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `creditrisk serve --model MODEL_DIR --bind 127.0.0.1:0` on the data of the project at `root`
/// (a [`trained_project`]), with the config file copied into `work/configs/` (so the project
/// root of relative paths is `work`) and `env` on top; returns once it logs "serving".
pub fn serve_binary(
    root: &Path,
    model_dir: &Path,
    work: &Path,
    env: &[(&str, &str)],
) -> ServeProcess {
    let config = work.join("configs/baseline.yaml");
    if !config.exists() {
        let manifest = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::copy(manifest.join("configs/baseline.yaml"), &config).unwrap();
    }
    let dir = |name: &str| root.join(name).display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_creditrisk"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--model")
        .arg(model_dir)
        .args(["--bind", "127.0.0.1:0"])
        .envs([
            ("CREDITRISK__PATHS__RAW_DIR", dir("raw")),
            ("CREDITRISK__PATHS__PROCESSED_DIR", dir("processed")),
            ("CREDITRISK__PATHS__REPORTS_DIR", dir("reports")),
            ("CREDITRISK__PATHS__CACHE_DIR", dir("cache")),
            (
                "CREDITRISK__FEATURES__STORE_FILE",
                dir("processed/feature_store.parquet"),
            ),
        ])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(|l| l.ok())
        {
            let _ = tx.send(line);
        }
    });
    let mut served = ServeProcess {
        child,
        addr: String::new(),
        log: vec![],
        lines,
        reader: Some(reader),
    };
    while served.addr.is_empty() {
        let line = served
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| {
                panic!("serve logs its address within 60 s ({e}): {:?}", served.log)
            });
        let event: serde_json::Value =
            serde_json::from_str(&line).unwrap_or(serde_json::Value::String(line));
        if event["fields"]["message"] == "serving" {
            served.addr = event["fields"]["addr"].as_str().unwrap().to_string();
        }
        served.log.push(event);
    }
    served
}

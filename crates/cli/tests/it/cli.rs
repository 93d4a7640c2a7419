//! The binary as a user meets it: exit codes and one-line errors for bad config and bad raw files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use creditrisk_base::catalog::RawTable;

/// A throwaway project: `configs/baseline.yaml` (the repo's, optionally edited) and `data/raw/`.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(edit: impl Fn(String) -> String) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let baseline =
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("configs/baseline.yaml");
        let text = edit(std::fs::read_to_string(baseline).unwrap());
        std::fs::create_dir_all(dir.path().join("configs")).unwrap();
        std::fs::write(dir.path().join("configs/baseline.yaml"), text).unwrap();
        Project { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn raw(&self, table: RawTable) -> PathBuf {
        self.root().join("data/raw").join(table.file_name())
    }

    /// Write every raw file with its catalog header and `rows` copies of a dummy line.
    pub fn write_headers_only(&self) {
        std::fs::create_dir_all(self.root().join("data/raw")).unwrap();
        for table in RawTable::ALL {
            std::fs::write(self.raw(table), format!("{}\n", table.header_line())).unwrap();
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_creditrisk"))
            .current_dir(self.root())
            .args(args)
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A user error: the given exit code, one `error:` line naming the culprit, no panic.
fn assert_clear_error(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "{err}");
    for needle in needles {
        assert!(
            error_lines[0].contains(needle),
            "missing `{needle}` in: {err}"
        );
    }
}

#[test]
fn help_lists_the_stages() {
    let project = Project::new(|t| t);
    let out = project.run(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("ingest"), "{text}");
}

#[test]
fn unknown_config_key_exits_2_naming_key_and_file() {
    let project = Project::new(|t| t.replace("  test_size: 0.2", "  test_sise: 0.2"));
    let out = project.run(&["ingest"]);
    assert_clear_error(&out, 2, &["test_sise", "baseline.yaml"]);
}

#[test]
fn wrong_config_type_exits_2_naming_key() {
    let project = Project::new(|t| t.replace("  test_size: 0.2", "  test_size: [1, 2]"));
    let out = project.run(&["ingest"]);
    assert_clear_error(&out, 2, &["training.test_size"]);
}

#[test]
fn cache_fill_share_out_of_range_names_the_key() {
    for share in ["0", "1.5", "-0.5"] {
        let project = Project::new(|t| {
            t.replace(
                "  cache_fill_share: 0.4",
                &format!("  cache_fill_share: {share}"),
            )
        });
        let out = project.run(&["build-feature-store"]);
        assert_clear_error(&out, 2, &["features.cache_fill_share", "(0, 1]"]);
    }
}

#[test]
fn bad_environment_override_names_the_key() {
    let project = Project::new(|t| t);
    let out = Command::new(env!("CARGO_BIN_EXE_creditrisk"))
        .current_dir(project.root())
        .args(["ingest"])
        .env("CREDITRISK__TRAINING__TEST_SIZE", "big")
        .output()
        .unwrap();
    assert_clear_error(&out, 2, &["training.test_size"]);
}

#[test]
fn ingest_verifies_and_summarises_every_file() {
    let project = Project::new(|t| t);
    project.write_headers_only();
    // Older than a clock tick, so that their hashes can be remembered (see `raw::HashStamp`).
    std::thread::sleep(std::time::Duration::from_millis(30));
    let out = project.run(&["ingest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(project.root().join("reports/ingestion_summary.json")).unwrap(),
    )
    .unwrap();
    let sources = summary["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 8);
    let bureau = sources.iter().find(|s| s["table"] == "bureau").unwrap();
    let digest = creditrisk_base::io::digest_file(&project.raw(RawTable::Bureau)).unwrap();
    assert_eq!(bureau["md5"], digest.md5);
    assert_eq!(bureau["sha256"], digest.sha256);
    assert_eq!(bureau["rows"], 0);
    assert_eq!(bureau["status"], "ok");
    // The hashes are remembered for the store build, which then does not hash the files again.
    let raw = project.raw(RawTable::Bureau);
    let memo = project.root().join("data/cache/raw");
    assert_eq!(
        creditrisk_data::raw::file_sha256(&raw, Some(&memo)).unwrap(),
        digest.sha256
    );
    let memos = std::fs::read_dir(&memo).unwrap().flatten();
    let memos = memos.filter(|e| e.file_name().to_string_lossy().ends_with(".sha256.json"));
    assert_eq!(memos.count(), 8);
}

#[test]
fn ingest_copies_a_file_url_source_into_the_raw_folder() {
    let elsewhere = tempfile::tempdir().unwrap();
    let source = elsewhere.path().join("bureau.csv");
    let body = format!("{}\n", RawTable::Bureau.header_line());
    std::fs::write(&source, &body).unwrap();
    let url = format!("file://{}", source.display());
    let project = Project::new(|t| t.replace("uri: data/raw/bureau.csv", &format!("uri: {url}")));
    project.write_headers_only();
    std::fs::remove_file(project.raw(RawTable::Bureau)).unwrap();
    let out = project.run(&["ingest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(project.raw(RawTable::Bureau)).unwrap(),
        body
    );
}

#[test]
fn ingest_fails_on_a_missing_file() {
    let project = Project::new(|t| t);
    project.write_headers_only();
    std::fs::remove_file(project.raw(RawTable::BureauBalance)).unwrap();
    let out = project.run(&["ingest"]);
    assert_clear_error(&out, 1, &["bureau_balance.csv", "missing"]);
}

#[test]
fn ingest_fails_on_a_checksum_mismatch() {
    let bad = "0123456789abcdef0123456789abcdef";
    let project = Project::new(|t| {
        t.replace(
            "{ table: bureau, uri: data/raw/bureau.csv }",
            &format!("{{ table: bureau, uri: data/raw/bureau.csv, md5: {bad} }}"),
        )
    });
    project.write_headers_only();
    let out = project.run(&["ingest"]);
    assert_clear_error(&out, 1, &["bureau.csv", "md5 mismatch", bad]);
}

#[test]
fn ingest_fails_on_a_wrong_header_naming_the_first_differing_column() {
    let project = Project::new(|t| t);
    project.write_headers_only();
    let header = RawTable::PreviousApplication
        .header_line()
        .replace("AMT_CREDIT", "AMT_KREDIT");
    std::fs::write(
        project.raw(RawTable::PreviousApplication),
        format!("{header}\n"),
    )
    .unwrap();
    let out = project.run(&["ingest"]);
    assert_clear_error(
        &out,
        1,
        &["previous_application.csv", "AMT_CREDIT", "AMT_KREDIT"],
    );
}

#[test]
fn registry_commands_name_a_bad_stage_reference_or_version() {
    let project = Project::new(|t| t);
    let out = project.run(&["promote-model", "--version", "1", "--stage", "Prod"]);
    assert_clear_error(&out, 2, &["--stage Prod", "Production"]);
    let out = project.run(&["validate-model", "--model", "models:/creditrisk-pd"]);
    assert_clear_error(&out, 2, &["models:/creditrisk-pd"]);
    let out = project.run(&[
        "canary",
        "--candidate",
        "models:/x@",
        "--production",
        "models:/x/1",
    ]);
    assert_clear_error(&out, 2, &["models:/x@"]);
    // An empty registry: the version is named, and so is what exists.
    let out = project.run(&["promote-model", "--version", "3", "--alias", "champion"]);
    assert_clear_error(&out, 1, &["models:/creditrisk-pd/3"]);
}

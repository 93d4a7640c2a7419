//! An edited artifact store is refused: a registered version loads only while its bundle's
//! manifest has the sha256 recorded at registration, and with `signing.trusted_keys` only a
//! bundle signed by a trusted key loads — through the one loader every scoring command uses.

use std::path::{Path, PathBuf};

use creditrisk_base::{Config, Layout};
use creditrisk_mlflow::{ModelRef, TrackingOptions};
use creditrisk_model::registry;
use serde_json::Value;

use crate::support;

fn load(cfg: &Config, reference: &ModelRef) -> creditrisk_base::Result<registry::LoadedModel> {
    let layout = Layout::new(cfg);
    let tracking = TrackingOptions::from_config(cfg);
    support::runtime().block_on(registry::load(&layout, &tracking, reference))
}

/// Change one byte of `file` in the bundle at `dir` and recompute its manifest entry, as an
/// attacker with write access to the artifact store would: the bundle still loads on its own.
fn tamper(dir: &Path, file: &str) {
    let path = dir.join(file);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b" ");
    std::fs::write(&path, &bytes).unwrap();
    let manifest_path = dir.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let digest = creditrisk_base::io::sha256_file(&path).unwrap();
    manifest["files"][file] = Value::String(digest);
    let text = serde_json::to_vec_pretty(&manifest).unwrap();
    std::fs::write(&manifest_path, text).unwrap();
    creditrisk_model::ModelBundle::load(dir).expect("a consistent edit loads on its own");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn version_ref(cfg: &Config, version: u64) -> ModelRef {
    ModelRef::Version {
        name: cfg.registry.model_name.clone(),
        version,
    }
}

fn message(result: creditrisk_base::Result<registry::LoadedModel>) -> String {
    match result {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_edited_registered_bundle_is_refused() {
    let (root, cfg, _) = support::trained_project(800, 21);
    let reference = version_ref(&cfg, 1);
    let loaded = load(&cfg, &reference).unwrap();
    assert_eq!(loaded.label.version(), Some(1));
    let dir: PathBuf = loaded.bundle.dir.clone();
    let original = root.join("original-bundle");
    copy_dir(&dir, &original);

    tamper(&dir, "validation_metrics.json");
    let e = message(load(&cfg, &reference));
    assert!(e.contains("recorded at registration"), "{e}");
    assert!(e.contains("version 1"), "{e}");

    // Restored, it loads again.
    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(&original, &dir);
    load(&cfg, &reference).unwrap();
}

#[test]
fn only_bundles_signed_by_a_trusted_key_load_when_keys_are_trusted() {
    let (root, mut cfg, model_dir) = support::trained_project(800, 23);
    let bin = env!("CARGO_BIN_EXE_creditrisk");
    let key = root.join("keys/bundle.pk8");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    let keygen = |out: &Path| {
        std::process::Command::new(bin)
            .args(["keygen", "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    let made = keygen(&key);
    assert!(made.status.success(), "{made:?}");
    let public = String::from_utf8(made.stdout).unwrap().trim().to_string();
    assert_eq!(public.len(), 64, "{public}");
    assert!(
        !keygen(&key).status.success(),
        "an existing key is never overwritten"
    );

    let folder = root.join("bundle-copy");
    copy_dir(&model_dir, &folder);
    let reference = ModelRef::Path(folder.clone());
    cfg.signing.trusted_keys = vec![public.clone()];
    let e = message(load(&cfg, &reference));
    assert!(e.contains("not signed"), "{e}");

    creditrisk_model::signature::sign_bundle(&folder, &key).unwrap();
    load(&cfg, &reference).unwrap();

    // Edited after signing (manifest recomputed): the signature no longer verifies.
    tamper(&folder, "calibration.json");
    let e = message(load(&cfg, &reference));
    assert!(e.contains("does not verify"), "{e}");

    // Signed by a key nobody trusts.
    let other = root.join("keys/other.pk8");
    assert!(keygen(&other).status.success());
    let stranger = root.join("bundle-stranger");
    copy_dir(&model_dir, &stranger);
    creditrisk_model::signature::sign_bundle(&stranger, &other).unwrap();
    let e = message(load(&cfg, &ModelRef::Path(stranger)));
    assert!(e.contains("does not verify"), "{e}");

    // train signs with signing.private_key_file; the registered version then loads.
    cfg.signing.private_key_file = key.clone();
    let trained = support::train(&cfg).unwrap();
    assert!(trained.model_dir.join("manifest.sig").is_file());
    let version = trained.registered_version.expect("registered");
    load(&cfg, &version_ref(&cfg, version)).unwrap();
    // ... and an unsigned one does not.
    let e = message(load(&cfg, &version_ref(&cfg, 1)));
    assert!(e.contains("not signed"), "{e}");
}

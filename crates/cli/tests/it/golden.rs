//! Behaviour pinned to the byte: a 1,000-applicant synthetic project (seed 7) gives a feature
//! store, splits, deterministic bundle files and test metrics with these sha256 digests. A
//! refactor must leave them unchanged; a deliberate change of behaviour updates them here, in the
//! same commit that explains it (the failure prints every new digest).

use std::collections::BTreeMap;

use creditrisk_base::Split;
use creditrisk_base::layout::BundleFile;
use creditrisk_synth::SynthOptions;

use crate::support;

/// File → sha256 of the last deliberate change (bundle files: `preprocessing.json` gained the
/// training range of every numeric feature, for serving's plausibility check).
const GOLDEN: [(&str, &str); 10] = [
    (
        "feature_store.parquet",
        "23f97dcfc2ef2b86d116b1ef162d1a980c520e2a1e1166afd2220762edc318f0",
    ),
    (
        "train.parquet",
        "f9f85ae7d08b7a230e8620cc6ddd7602f4439ab4e6a62c84acc269bf2c29180a",
    ),
    (
        "test.parquet",
        "4a658839f1e29a074ad34427c55a8de876c7adff57923a09adc3e240e6abcd3c",
    ),
    (
        "learner.json",
        "f1ed763aa7f4fcd055c0962f0210e56ba5a0ce20b3be2f491464a007b28ba8da",
    ),
    (
        "preprocessing.json",
        "8a89b8d668752f11fe1e617124304ad9cc23da82de69f66af3e5ba5ade5d93ad",
    ),
    (
        "calibration.json",
        "d4f0c31bf0102209e7293ad070eb4b0ee5a6ab7f028f7ac632b35073c9d69c5b",
    ),
    (
        "model.json",
        "0cf18224056b237914788719c1970dda28c54a62ff4880947ab7927f7a54c156",
    ),
    (
        "validation_metrics.json",
        "826cc3202aa3a157621b929817a403c0eb6a3b062c222304b24a4d2b61caffbc",
    ),
    (
        "reason_statements.json",
        "9a0069fcfe757204b6fc25a0252ee1e6bd45629a5b9ee7f8334e6a591a73d697",
    ),
    (
        "test_metrics.json",
        "eeabf924abca573c55701682f5383183234bf317a0f76edc8c53788e51b277e7",
    ),
];

#[test]
fn a_small_project_reproduces_its_golden_digests() {
    let root = support::kept_dir();
    let mut cfg = crate::features::test_config(&root);
    cfg.paths.models_dir = root.join("models");
    let layout = support::layout(&cfg);
    let opts = SynthOptions::new(1000, 7, layout.raw_dir.clone(), root.join("truth.parquet"));
    support::synth(&opts).unwrap();
    support::build_feature_store(&cfg).unwrap();
    support::split(&cfg).unwrap();
    let model_dir = support::train(&cfg).unwrap().model_dir;
    support::evaluate(&cfg, Split::Test).unwrap();
    let mut files = vec![
        ("feature_store.parquet", layout.store_file.clone()),
        ("train.parquet", layout.split_file(Split::Train)),
        ("test.parquet", layout.split_file(Split::Test)),
    ];
    for file in BundleFile::DETERMINISTIC {
        files.push((file.name(), model_dir.join(file.name())));
    }
    files.push(("test_metrics.json", layout.metrics_file(Split::Test)));
    let actual: BTreeMap<&str, String> = files
        .iter()
        .map(|(name, path)| (*name, creditrisk_base::io::sha256_file(path).unwrap()))
        .collect();
    let expected: BTreeMap<&str, String> =
        GOLDEN.iter().map(|(n, d)| (*n, d.to_string())).collect();
    let listing: Vec<String> = actual
        .iter()
        .map(|(n, d)| format!("    (\"{n}\", \"{d}\"),"))
        .collect();
    assert_eq!(
        actual,
        expected,
        "behaviour changed; if deliberately, the new digests are:\n{}",
        listing.join("\n")
    );
}

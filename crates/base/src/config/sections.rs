//! The configuration's top-level sections and their hashes: a stage's run id and lineage change
//! only when a section it reads changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Config;

impl Config {
    /// sha256 of each section of the effective configuration (after overrides), so a stage's run
    /// id and lineage change only when a section it reads changes.
    pub fn section_hashes(&self) -> BTreeMap<Section, String> {
        Section::ALL
            .iter()
            .map(|s| {
                let value = self.section_value(*s);
                let canonical = serde_json::to_vec(&value).unwrap_or_default();
                (*s, hex::encode(Sha256::digest(&canonical)))
            })
            .collect()
    }

    /// One digest of the given sections (see [`combine_hashes`]).
    pub fn hash_of(&self, sections: &[Section]) -> String {
        combine_hashes(&self.sections_record(sections))
    }

    fn section_value(&self, section: Section) -> Value {
        let value = match section {
            Section::Paths => serde_json::to_value(&self.paths),
            Section::Data => serde_json::to_value(&self.data),
            Section::Features => serde_json::to_value(&self.features),
            Section::Training => serde_json::to_value(&self.training),
            Section::Model => serde_json::to_value(&self.model),
            Section::Tracking => serde_json::to_value(&self.tracking),
            Section::Inference => serde_json::to_value(&self.inference),
            Section::Registry => serde_json::to_value(&self.registry),
            Section::Validation => serde_json::to_value(&self.validation),
            Section::Testing => serde_json::to_value(&self.testing),
            Section::Monitoring => serde_json::to_value(&self.monitoring),
            Section::Ingestion => serde_json::to_value(&self.ingestion),
            Section::Governance => serde_json::to_value(&self.governance),
        };
        value.unwrap_or(Value::Null)
    }

    /// The sections a stage read, with their hashes, for lineage files and run records.
    pub fn sections_record(&self, sections: &[Section]) -> BTreeMap<String, String> {
        let all = self.section_hashes();
        sections
            .iter()
            .map(|s| (s.name().to_string(), all[s].clone()))
            .collect()
    }
}

/// One digest of section hashes: sha256 of their `name=sha256` lines in name order.
pub fn combine_hashes(sections: &BTreeMap<String, String>) -> String {
    let mut text = String::new();
    for (name, hash) in sections {
        text.push_str(&format!("{name}={hash}\n"));
    }
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The top-level sections of the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Paths,
    Data,
    Features,
    Training,
    Model,
    Tracking,
    Inference,
    Registry,
    Validation,
    Testing,
    Monitoring,
    Ingestion,
    Governance,
}

impl Section {
    pub const ALL: [Section; 13] = [
        Section::Paths,
        Section::Data,
        Section::Features,
        Section::Training,
        Section::Model,
        Section::Tracking,
        Section::Inference,
        Section::Registry,
        Section::Validation,
        Section::Testing,
        Section::Monitoring,
        Section::Ingestion,
        Section::Governance,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Section::Paths => "paths",
            Section::Data => "data",
            Section::Features => "features",
            Section::Training => "training",
            Section::Model => "model",
            Section::Tracking => "tracking",
            Section::Inference => "inference",
            Section::Registry => "registry",
            Section::Validation => "validation",
            Section::Testing => "testing",
            Section::Monitoring => "monitoring",
            Section::Ingestion => "ingestion",
            Section::Governance => "governance",
        }
    }
}

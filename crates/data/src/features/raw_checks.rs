//! A build's raw contracts: each table's checks, or the report an earlier build remembered for
//! the same inputs (`memo`), and the parents' ids that the orphan checks look up.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::prelude::SessionContext;
use tokio::sync::{OnceCell, watch};

use super::digests::Digests;
use super::engine::read_header;
use super::memo::{self, ContractKey, ContractMemo};
use crate::contracts::ValidationReport;
use crate::contracts::raw_tables::{check_raw_table, register_known_ids};
use crate::raw::{self, TableFacts};
use crate::storage::Storage;
use creditrisk_base::catalog::RawTable;
use creditrisk_base::config::ValidationConfig;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;

/// What the raw contracts of one build share.
pub(super) struct RawChecks {
    ctx: SessionContext,
    storage: Storage,
    layout: Layout,
    pub(super) validation: ValidationConfig,
    /// Where reports are remembered: the typed cache's folder (None without the cache: every
    /// table is checked).
    memo_dir: Option<PathBuf>,
    /// `features.reuse_contract_reports` (a build that may not reuse still remembers).
    reuse_reports: bool,
    digests: Digests,
    /// sha256 of this executable, for the memo's key (hashed once, when first needed).
    program: OnceCell<String>,
    /// Parents whose known ids are registered (or not needed): their children's orphan checks
    /// wait for them, the feature SQL does not.
    known_ready: watch::Sender<Vec<RawTable>>,
    /// Each table's remembered report for this build's inputs, read once (see `recall`).
    recalled: Mutex<BTreeMap<RawTable, Option<Arc<ContractMemo>>>>,
}

/// What the contracts of one table found.
pub(super) struct Checked {
    pub rows: u64,
    pub nulls: BTreeMap<String, u64>,
    pub seconds: f64,
    /// The table's contracts failed (its report is written all the same).
    pub failure: Option<Error>,
    /// The report was remembered from an earlier build, not checked again.
    pub reused: bool,
}

impl RawChecks {
    pub(super) fn new(
        ctx: SessionContext,
        storage: Storage,
        layout: Layout,
        validation: ValidationConfig,
        memo_dir: Option<PathBuf>,
        reuse_reports: bool,
        digests: Digests,
    ) -> RawChecks {
        RawChecks {
            ctx,
            storage,
            layout,
            validation,
            memo_dir,
            reuse_reports,
            digests,
            program: OnceCell::new(),
            known_ready: watch::Sender::new(vec![]),
            recalled: Mutex::new(BTreeMap::new()),
        }
    }

    /// Check the registered `table` (or reuse its remembered report) and write its report;
    /// `type_report` holds the type contract's findings when some values did not parse.
    pub(super) async fn check(
        &self,
        table: RawTable,
        type_report: Option<ValidationReport>,
        facts: TableFacts,
    ) -> Result<Checked> {
        let t0 = Instant::now();
        let path = self.layout.raw_file(table);
        let report_file = self
            .layout
            .validation_report(&format!("raw_{}", table.name()));
        // A table read with values that did not parse is never remembered.
        let memo_dir = self.memo_dir.as_ref().filter(|_| type_report.is_none());
        if memo_dir.is_some()
            && self.reuse_reports
            && let Some(memo) = self.recall(table).await?
        {
            return Ok(Checked {
                rows: memo.rows,
                nulls: memo.nulls.clone(),
                failure: memo.write_and_check(&report_file).err(),
                seconds: t0.elapsed().as_secs_f64(),
                reused: true,
            });
        }
        let parents: Vec<RawTable> = table.parents().iter().map(|link| link.parent).collect();
        let mut ready = self.known_ready.subscribe();
        ready
            .wait_for(|known| parents.iter().all(|p| known.contains(p)))
            .await
            .map_err(|e| Error::internal_from("waiting for known ids", e))?;
        let source = path.display().to_string();
        let names = read_header(&self.storage, &path).await?;
        let header = raw::check_header(table, &names);
        let (mut report, run) =
            check_raw_table(&self.ctx, table, &source, &header, &self.validation, &facts).await?;
        if let Some(types) = type_report {
            merge(&mut report, types);
        }
        let failure = report.write_and_check(&report_file).err();
        if let Some(dir) = memo_dir {
            let memo = ContractMemo {
                key: self.contract_key(table).await?,
                rows: run.rows,
                nulls: run.nulls.clone(),
                report: creditrisk_base::io::json_text(&report)
                    .map_err(|e| Error::internal_from(format!("report of {}", table.name()), e))?,
            };
            // The memo only saves a later build time: failing to write it must not fail this one.
            let _ = memo::remember(dir, table, &memo);
        }
        Ok(Checked {
            rows: run.rows,
            nulls: run.nulls,
            seconds: t0.elapsed().as_secs_f64(),
            failure,
            reused: false,
        })
    }

    /// Register the ids of `parents` that orphan checks will look up (while the parents are
    /// still registered), then let the waiting checks run.
    pub(super) async fn register_known_ids(&self, parents: &[RawTable]) -> Result<()> {
        for &parent in parents {
            if self.known_ids_needed(parent).await? {
                register_known_ids(&self.ctx, parent).await?;
            }
        }
        self.known_ready.send_modify(|known| known.extend(parents));
        Ok(())
    }

    /// Whether a later table's orphan checks will look up `parent`'s ids: not when every such
    /// table will reuse its remembered report (the same test as `check`).
    async fn known_ids_needed(&self, parent: RawTable) -> Result<bool> {
        if self.memo_dir.is_none() || !self.reuse_reports {
            return Ok(true);
        }
        for child in RawTable::ALL {
            let links = memo::parents(child).contains(&parent);
            if links && self.recall(child).await?.is_none() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `table`'s remembered report for this build's inputs, read once per build: the known-ids
    /// decision and the table's contracts see the same memo, even when another build sharing
    /// the cache folder replaces the file in between.
    async fn recall(&self, table: RawTable) -> Result<Option<Arc<ContractMemo>>> {
        let Some(dir) = &self.memo_dir else {
            return Ok(None);
        };
        let seen = || {
            let recalled = self.recalled.lock().unwrap_or_else(|e| e.into_inner());
            recalled.get(&table).cloned()
        };
        if let Some(memo) = seen() {
            return Ok(memo);
        }
        let memo = match memo::any(dir, table) {
            true => memo::recall(dir, &self.contract_key(table).await?).map(Arc::new),
            false => None,
        };
        let mut recalled = self.recalled.lock().unwrap_or_else(|e| e.into_inner());
        Ok(recalled.entry(table).or_insert(memo).clone())
    }

    /// Everything `table`'s contract report depends on (see `memo`).
    async fn contract_key(&self, table: RawTable) -> Result<ContractKey> {
        let mut parents = BTreeMap::new();
        for parent in memo::parents(table) {
            let sha = self.digests.wait(parent).await?;
            parents.insert(parent.name().to_string(), sha);
        }
        let program = self
            .program
            .get_or_try_init(|| async {
                let dir = self.layout.raw_cache_dir();
                tokio::task::spawn_blocking(move || memo::program_sha256(&dir))
                    .await
                    .map_err(|e| Error::internal_from("hashing the executable stopped", e))?
            })
            .await?
            .clone();
        Ok(ContractKey {
            table: table.name().into(),
            sha256: self.digests.wait(table).await?,
            parents,
            validation: memo::validation_value(&self.validation)?,
            program,
        })
    }
}

fn merge(report: &mut ValidationReport, other: ValidationReport) {
    report.checks_run += other.checks_run;
    for f in other.failures.into_iter().chain(other.warnings) {
        report.record(f);
    }
}

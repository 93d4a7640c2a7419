//! Where the build runs: the session (DataFusion here, or a Ballista cluster), the cluster's
//! file-backed raw tables and its folder of in-between tables.

use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;

use crate::cluster::Engine;
use crate::raw;
use crate::storage::{self, Storage};
use creditrisk_base::catalog::RawTable;
use creditrisk_base::error::{Error, Result};

/// The header of a raw file, local or in an object store.
pub(super) async fn read_header(storage: &Storage, path: &Path) -> Result<Vec<String>> {
    match creditrisk_base::location::remote(path) {
        Some(uri) => storage.read_header(uri).await,
        None => raw::read_header(path),
    }
}

/// The session the build runs on: DataFusion here, or a Ballista cluster whose in-between
/// tables are Parquet files in `spill` (a cluster cannot be sent in-memory tables).
pub(super) async fn session(
    engine: &Engine,
    storage: &Storage,
    spill: &Spill,
) -> Result<SessionContext> {
    match engine {
        Engine::Ballista { host, port } => {
            let files = storage::FileTables {
                dir: spill.dir.clone(),
            };
            let config = raw::session()
                .copied_config()
                .with_extension(std::sync::Arc::new(files));
            crate::cluster::remote_session(host, *port, config, storage).await
        }
        Engine::Local => Ok(raw::session()),
    }
}

/// A raw CSV as a file-backed table the cluster reads itself (no in-memory copy, no Parquet
/// cache: the cache is local to this machine). The cluster reads the catalog's layout only.
pub(super) async fn register_listing(
    ctx: &SessionContext,
    table: RawTable,
    path: &Path,
    storage: &Storage,
) -> Result<()> {
    let names = read_header(storage, path).await?;
    if !raw::check_header(table, &names).matches_catalog() {
        return Err(Error::input(format!(
            "{}: the header differs from the catalog's {} columns; the Ballista engine reads \
             the catalog layout only (run `creditrisk ingest` for the first difference, or build \
             locally with --engine local)",
            path.display(),
            table.name()
        )));
    }
    let location = match creditrisk_base::location::remote(path) {
        Some(uri) => uri.to_string(),
        None => std::path::absolute(path)
            .map_err(|e| Error::io(path, e))?
            .display()
            .to_string(),
    };
    let schema = table.arrow_schema();
    let options = datafusion::prelude::CsvReadOptions::new()
        .has_header(true)
        .schema(&schema);
    ctx.deregister_table(table.name())?;
    ctx.register_csv(table.name(), &location, options)
        .await
        .map_err(|e| Error::engine(format!("registering {location} on the cluster"), e))
}

/// The folder of a build's in-between tables (a local build's finished per-table features, a
/// cluster build's tables), removed when the build ends (also on error). It lives under
/// `paths.cache_dir`, which every executor of a cluster must see at the same path.
pub(super) struct Spill {
    pub(super) dir: PathBuf,
}

impl Spill {
    pub(super) fn new(engine: &Engine, cache_dir: &Path) -> Result<Spill> {
        let kind = match engine {
            Engine::Local => "features",
            Engine::Ballista { .. } => "ballista",
        };
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.f");
        let dir = std::path::absolute(
            cache_dir
                .join(kind)
                .join(format!("build-{stamp}-{}", std::process::id())),
        )
        .map_err(|e| Error::io(cache_dir, e))?;
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Spill { dir })
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! Raw data in object stores: `s3://`, `az://`/`abfs://`, `gs://` and `http(s)://` URIs through
//! the `object_store` crate DataFusion itself reads with.
//!
//! Credentials come from each cloud's usual environment variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AZURE_STORAGE_ACCOUNT_NAME`,
//! `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_USE_EMULATOR`, `GOOGLE_SERVICE_ACCOUNT`, …);
//! `paths.endpoint` points S3 URIs (and Azure ones) at a compatible server. A remote location is
//! carried through the pipeline as a `PathBuf` holding the URI (so [`creditrisk_base::Layout`] keeps one
//! type); [`remote`] tells the two apart.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use md5::{Digest, Md5};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::Sha256;
use url::Url;

use creditrisk_base::error::{Error, Result};
use creditrisk_base::io::FileDigest;
use creditrisk_base::location::is_remote;

/// How to reach object stores: the environment plus the optional `paths.endpoint`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Storage {
    /// Base URL of an S3-compatible (or Azure-compatible) server, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
}

/// One object: its URI, the store's base URL (`scheme://bucket`) and the key inside.
#[derive(Clone, Debug)]
pub struct Object {
    pub uri: String,
    pub base: Url,
    pub key: object_store::path::Path,
}

impl Object {
    pub fn parse(uri: &str) -> Result<Object> {
        let url = Url::parse(uri).map_err(|e| {
            Error::input(format!(
                "{uri}: not a valid URI ({e}); expected e.g. s3://bucket/raw/bureau.csv"
            ))
        })?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| {
            Error::input(format!(
                "{uri}: the URI names no bucket or container (s3://BUCKET/key, az://CONTAINER/key)"
            ))
        })?;
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let base = Url::parse(&format!("{}://{host}{port}", url.scheme()))
            .map_err(|e| Error::input_from(uri.to_string(), e))?;
        let key = object_store::path::Path::from_url_path(url.path())
            .map_err(|e| Error::input_from(format!("{uri}: invalid object key"), e))?;
        Ok(Object {
            uri: uri.to_string(),
            base,
            key,
        })
    }
}

impl Storage {
    pub fn new(endpoint: Option<String>) -> Storage {
        Storage {
            endpoint: endpoint.filter(|e| !e.trim().is_empty()),
        }
    }

    /// The store serving `base` (`scheme://bucket`), built from the environment.
    pub fn store(&self, base: &Url) -> Result<Arc<dyn ObjectStore>> {
        let uri = base.as_str();
        let fail = |e: object_store::Error| {
            Error::config(format!(
                "{uri}: cannot set up the object store: {e} (check the credential variables \
                 and paths.endpoint)"
            ))
        };
        let plain_http = self
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        let store: Arc<dyn ObjectStore> = match base.scheme() {
            "s3" | "s3a" => {
                let mut b = AmazonS3Builder::from_env().with_url(uri);
                if let Some(endpoint) = &self.endpoint {
                    // Path-style requests: S3-compatible servers rarely resolve bucket subdomains.
                    b = b
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false)
                        .with_allow_http(plain_http);
                }
                Arc::new(b.build().map_err(fail)?)
            }
            "az" | "azure" | "abfs" | "abfss" | "adl" => {
                let mut b = MicrosoftAzureBuilder::from_env().with_url(uri);
                if let Some(endpoint) = &self.endpoint {
                    b = b
                        .with_endpoint(endpoint.clone())
                        .with_allow_http(plain_http);
                }
                Arc::new(b.build().map_err(fail)?)
            }
            "gs" => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_url(uri)
                    .build()
                    .map_err(fail)?,
            ),
            "http" | "https" => Arc::new(HttpBuilder::new().with_url(uri).build().map_err(fail)?),
            other => {
                return Err(Error::config(format!(
                    "{uri}: unsupported scheme `{other}` (use s3://, az://, abfs://, gs://, \
                     http(s):// or a local path)"
                )));
            }
        };
        Ok(store)
    }

    /// Make the store of `uri` known to `ctx`, so the engine reads the object in place.
    pub fn register(&self, ctx: &SessionContext, uri: &str) -> Result<()> {
        let object = Object::parse(uri)?;
        let store = self.store(&object.base)?;
        ctx.register_object_store(&object.base, store);
        Ok(())
    }

    /// A registry that builds the store of any remote URL on first use, for engines that receive
    /// plans naming URIs they were never told about (the Ballista executors).
    pub fn registry(&self) -> Arc<dyn ObjectStoreRegistry> {
        Arc::new(EnvRegistry {
            storage: self.clone(),
            known: DefaultObjectStoreRegistry::new(),
        })
    }

    /// Size of an object (a clear error naming the URI when it is missing or refused).
    pub async fn size(&self, uri: &str) -> Result<u64> {
        let object = Object::parse(uri)?;
        let store = self.store(&object.base)?;
        let meta = store
            .head(&object.key)
            .await
            .map_err(|e| describe(uri, e))?;
        Ok(meta.size)
    }

    /// Stream the object once: size, md5, sha256 and line count, the first `keep` bytes (for the
    /// header), and every byte into `sink` when given. Nothing is written to disk otherwise.
    pub async fn digest(
        &self,
        uri: &str,
        keep: usize,
        mut sink: Option<&mut (dyn Write + Send)>,
    ) -> Result<(FileDigest, Vec<u8>)> {
        let object = Object::parse(uri)?;
        let store = self.store(&object.base)?;
        let mut stream = store
            .get(&object.key)
            .await
            .map_err(|e| describe(uri, e))?
            .into_stream();
        let (mut md5, mut sha) = (Md5::new(), Sha256::new());
        let (mut bytes, mut lines, mut last) = (0u64, 0u64, b'\n');
        let mut head = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| describe(uri, e))?;
            if chunk.is_empty() {
                continue;
            }
            md5.update(&chunk);
            sha.update(&chunk);
            bytes += chunk.len() as u64;
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            last = chunk[chunk.len() - 1];
            if head.len() < keep {
                let take = (keep - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            if let Some(out) = sink.as_deref_mut() {
                out.write_all(&chunk)
                    .map_err(|e| Error::input_from(format!("{uri}: copying the object"), e))?;
            }
        }
        if last != b'\n' {
            lines += 1; // a final line without newline still counts (as io::digest_file)
        }
        let digest = FileDigest {
            bytes,
            md5: hex::encode(md5.finalize()),
            sha256: hex::encode(sha.finalize()),
            lines,
        };
        Ok((digest, head))
    }

    /// sha256 of an object, streamed.
    pub async fn sha256(&self, uri: &str) -> Result<String> {
        Ok(self.digest(uri, 0, None).await?.0.sha256)
    }

    /// The header line of a remote CSV, read from its first bytes only.
    pub async fn read_header(&self, uri: &str) -> Result<Vec<String>> {
        let object = Object::parse(uri)?;
        let store = self.store(&object.base)?;
        let size = self.size(uri).await?;
        let bytes = store
            .get_range(&object.key, 0..size.min(HEADER_BYTES as u64))
            .await
            .map_err(|e| describe(uri, e))?;
        parse_header(uri, &bytes)
    }
}

/// A CSV header is read from at most this many leading bytes.
pub const HEADER_BYTES: usize = 1 << 20;

/// The first CSV record of `bytes` (quoted names allowed; a UTF-8 BOM is dropped), as
/// `raw::read_header` reads a local file.
pub fn parse_header(uri: &str, bytes: &[u8]) -> Result<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes);
    let mut record = csv::StringRecord::new();
    let found = reader
        .read_record(&mut record)
        .map_err(|e| Error::input_from(format!("{uri}: cannot read the header line"), e))?;
    if !found {
        return Err(Error::input(format!(
            "{uri}: the object is empty; expected a header line and rows"
        )));
    }
    Ok(record
        .iter()
        .map(|s| s.trim_start_matches('\u{feff}').trim().to_string())
        .collect())
}

/// An object-store failure as an input error that names the URI and says what to change.
pub fn describe(uri: &str, e: object_store::Error) -> Error {
    let hint = match &e {
        object_store::Error::NotFound { .. } => {
            return Error::input(format!(
                "{uri}: object not found (check the URI in ingestion.sources or paths.raw_dir, \
                 and that the bucket or container exists)"
            ));
        }
        object_store::Error::Unauthenticated { .. }
        | object_store::Error::PermissionDenied { .. } => "the credentials were refused",
        _ => {
            let text = e.to_string();
            if [
                "403",
                "401",
                "Forbidden",
                "AuthorizationFailure",
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "AuthenticationFailed",
            ]
            .iter()
            .any(|s| text.contains(s))
            {
                "the credentials were refused"
            } else {
                "the store could not be read"
            }
        }
    };
    Error::input(format!(
        "{uri}: {hint}: {e} (check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
         AZURE_STORAGE_ACCOUNT_NAME/AZURE_STORAGE_ACCOUNT_KEY or GOOGLE_SERVICE_ACCOUNT, and \
         paths.endpoint)"
    ))
}

/// Run a future to completion from synchronous code, inside or outside a runtime: on a helper
/// thread with its own small runtime (a stage that is synchronous, like `ingest`, may be called
/// from the CLI's runtime, where blocking on it directly would panic).
pub fn block_on<F>(fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|rt| rt.block_on(fut))
            })
            .join()
    })
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    .unwrap_or_else(|e| panic!("cannot start a runtime for object-store I/O: {e}"))
}

/// Tables an engine cannot hold in memory (a Ballista cluster cannot be sent a `MemTable`): small
/// intermediate results are written as Parquet files in `dir` (a path every executor sees) and
/// registered as file-backed tables, so the same SQL text runs locally and on the cluster. Set
/// on a session as a config extension; [`file_tables`] finds it.
#[derive(Debug)]
pub struct FileTables {
    pub dir: std::path::PathBuf,
}

/// The session's [`FileTables`], when its tables must be file-backed.
pub fn file_tables(ctx: &SessionContext) -> Option<Arc<FileTables>> {
    ctx.state().config().get_extension::<FileTables>()
}

impl FileTables {
    /// Write `parts` to `<dir>/<name>.parquet` (atomically) and register it as `name`; returns the
    /// row count.
    pub fn register(
        &self,
        ctx: &SessionContext,
        name: &str,
        schema: datafusion::arrow::datatypes::SchemaRef,
        parts: &[Vec<datafusion::arrow::array::RecordBatch>],
    ) -> Result<u64> {
        use datafusion::datasource::file_format::parquet::ParquetFormat;
        use datafusion::datasource::listing::{
            ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
        };
        let file = std::path::absolute(self.dir.join(format!("{name}.parquet")))
            .map_err(|e| Error::io(&self.dir, e))?;
        creditrisk_base::parquet_io::write_parquet(
            &file,
            &schema,
            parts.iter().flatten(),
            creditrisk_base::parquet_io::ParquetOptions::RAW_CACHE,
        )?;
        let text = file
            .to_str()
            .ok_or_else(|| Error::input(format!("{}: path is not UTF-8", file.display())))?;
        let url = ListingTableUrl::parse(text)?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema);
        let table = ListingTable::try_new(config)?;
        ctx.deregister_table(name)?;
        ctx.register_table(name, Arc::new(table))?;
        Ok(parts.iter().flatten().map(|b| b.num_rows() as u64).sum())
    }
}

/// [`Storage::registry`]: registered stores first, else one built from the environment.
#[derive(Debug)]
struct EnvRegistry {
    storage: Storage,
    known: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for EnvRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        if !is_remote(url.as_str()) {
            return self.known.get_store(url);
        }
        let object = Object::parse(url.as_str())
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        let store = self
            .storage
            .store(&object.base)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        self.known.register_store(&object.base, store.clone());
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_splits_base_and_key() {
        let o = Object::parse("s3://bucket/raw/bureau.csv").unwrap();
        assert_eq!(o.base.as_str(), "s3://bucket");
        assert_eq!(o.key.as_ref(), "raw/bureau.csv");
        let e = Object::parse("s3:///raw.csv").unwrap_err().to_string();
        assert!(e.contains("s3:///raw.csv") && e.contains("bucket"), "{e}");
    }

    #[test]
    fn header_from_leading_bytes() {
        let h = parse_header("s3://b/k", b"\xef\xbb\xbfA,\"B\",C\n1,2,3\n").unwrap();
        assert_eq!(h, ["A", "B", "C"]);
        assert!(parse_header("s3://b/k", b"").is_err());
    }
}

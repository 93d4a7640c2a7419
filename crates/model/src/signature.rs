//! Ed25519 signatures of model bundles. The signature covers `manifest.json`, which pins every
//! other file by sha256, and lives beside it in `manifest.sig` (hex). `train` signs with
//! `signing.private_key_file`; scoring accepts a bundle only with a valid signature by one of
//! `signing.trusted_keys` when any is listed, so an edited artifact store is refused.

use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::ModelBundle;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::BundleFile;

/// The public keys a bundle must be signed by (none: signatures are not required).
#[derive(Clone, Debug, Default)]
pub struct Trust {
    keys: Vec<Vec<u8>>,
}

impl Trust {
    /// From `signing.trusted_keys` (64 hex digits each; the config check refused others).
    pub fn from_hex(keys: &[String]) -> Result<Trust> {
        let keys = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                hex::decode(k.trim())
                    .ok()
                    .filter(|b| b.len() == 32)
                    .ok_or_else(|| {
                        Error::config(format!(
                            "signing.trusted_keys[{i}]: not an ed25519 public key (64 hex digits)"
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        Ok(Trust { keys })
    }

    pub fn requires_signature(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Ok when no key is trusted, or the bundle's manifest (the bytes it was loaded from) carries
    /// a valid signature by one of the trusted keys.
    pub fn check(&self, bundle: &ModelBundle) -> Result<()> {
        if self.keys.is_empty() {
            return Ok(());
        }
        let file = BundleFile::Signature.name();
        let Some(signature) = &bundle.signature else {
            return Err(Error::check(format!(
                "model bundle {}: not signed ({file} is missing) but signing.trusted_keys requires \
                 a signature: train it with signing.private_key_file set, or sign it with \
                 `creditrisk sign-bundle`",
                bundle.dir.display()
            )));
        };
        let verifies = self.keys.iter().any(|key| {
            UnparsedPublicKey::new(&ED25519, key)
                .verify(&bundle.manifest_bytes, signature)
                .is_ok()
        });
        if verifies {
            Ok(())
        } else {
            Err(Error::check(format!(
                "model bundle {}: {file} does not verify with any of signing.trusted_keys: the \
                 bundle changed after it was signed, or another key signed it",
                bundle.dir.display()
            )))
        }
    }
}

/// Write a new key pair: the PKCS#8 private key to `out` (mode 0600, never overwritten); returns
/// the public key as hex, the value for `signing.trusted_keys`.
pub fn generate_key(out: &Path) -> Result<String> {
    if out.exists() {
        return Err(Error::input(format!(
            "{} exists; choose another --out or remove it first",
            out.display()
        )));
    }
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| Error::internal("cannot generate an ed25519 key"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| Error::internal("generated an unreadable ed25519 key"))?;
    write_private(out, pkcs8.as_ref())?;
    Ok(hex::encode(pair.public_key().as_ref()))
}

/// Create `path` readable by its owner only (never replacing a file) and write `bytes`.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// The key pair in a PKCS#8 file (`creditrisk keygen`'s, or `openssl genpkey -algorithm
/// ed25519 -outform DER`).
pub fn key_pair(key_file: &Path) -> Result<Ed25519KeyPair> {
    let der = std::fs::read(key_file).map_err(|e| Error::io(key_file, e))?;
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|e| {
        Error::config(format!(
            "signing.private_key_file {}: not an ed25519 PKCS#8 key ({e}); make one with \
             `creditrisk keygen`",
            key_file.display()
        ))
    })
}

/// Sign the bundle in `dir` with the key in `key_file`; returns the public key as hex.
pub fn sign_bundle(dir: &Path, key_file: &Path) -> Result<String> {
    let pair = key_pair(key_file)?;
    // Verified first: a signature must never vouch for a bundle that does not load.
    let bundle = ModelBundle::load(dir)?;
    write_signature(dir, &pair, &bundle.manifest_bytes)?;
    Ok(hex::encode(pair.public_key().as_ref()))
}

/// Write `manifest.sig` in `dir`: `pair`'s signature of `manifest` (the manifest's bytes).
pub(crate) fn write_signature(dir: &Path, pair: &Ed25519KeyPair, manifest: &[u8]) -> Result<()> {
    let text = format!("{}\n", hex::encode(pair.sign(manifest).as_ref()));
    creditrisk_base::io::write_atomic(&dir.join(BundleFile::Signature.name()), text.as_bytes())
}

/// The signature bytes of `manifest.sig` (None when absent).
pub(crate) fn read_signature(dir: &Path) -> Result<Option<Vec<u8>>> {
    let path = dir.join(BundleFile::Signature.name());
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
        Ok(m) if !m.file_type().is_file() || m.len() > 1024 => {
            return Err(Error::check(format!(
                "{}: must be a regular file holding a hex signature",
                path.display()
            )));
        }
        Ok(_) => {}
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    hex::decode(text.trim()).map(Some).map_err(|e| {
        Error::check(format!(
            "{}: not a hex signature ({e}); sign the bundle again",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_binds_the_manifest_to_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.pk8");
        let public = generate_key(&key).unwrap();
        assert!(generate_key(&key).is_err(), "never overwrites a key");
        let pair = Ed25519KeyPair::from_pkcs8(&std::fs::read(&key).unwrap()).unwrap();
        let manifest = b"{\"files\":{}}";
        let sig = pair.sign(manifest);
        let trust = Trust::from_hex(std::slice::from_ref(&public)).unwrap();
        let key_bytes = &trust.keys[0];
        let ok = |m: &[u8], s: &[u8]| UnparsedPublicKey::new(&ED25519, key_bytes).verify(m, s);
        assert!(ok(manifest, sig.as_ref()).is_ok());
        assert!(ok(b"{\"files\":{ }}", sig.as_ref()).is_err());
        let mut other = sig.as_ref().to_vec();
        other[0] ^= 1;
        assert!(ok(manifest, &other).is_err());
        assert!(Trust::from_hex(&["00".into()]).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

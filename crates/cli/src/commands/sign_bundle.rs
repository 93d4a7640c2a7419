//! `creditrisk sign-bundle`.

use std::path::PathBuf;

use creditrisk_base::{Error, Result};

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// The bundle folder to sign (it is verified first).
    bundle: PathBuf,
    /// The private key (default: `signing.private_key_file`).
    #[arg(long)]
    key: Option<PathBuf>,
}

pub fn exec(args: Args, p: &Project) -> Result<()> {
    let configured = &p.cfg.signing.private_key_file;
    let key = match args.key {
        Some(key) => key,
        None if !configured.as_os_str().is_empty() => p.cfg.resolve(configured),
        None => {
            return Err(Error::config(
                "no key: pass --key FILE or set signing.private_key_file (creditrisk keygen makes one)",
            ));
        }
    };
    let public = creditrisk_model::signature::sign_bundle(&args.bundle, &key)?;
    output::signed(&args.bundle, &public);
    Ok(())
}

//! `creditrisk keygen`.

use std::path::PathBuf;

use creditrisk_base::Result;

use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the private key (PKCS#8, mode 0600; never overwritten). Point
    /// `signing.private_key_file` at it.
    #[arg(long)]
    out: PathBuf,
}

pub fn exec(args: Args) -> Result<()> {
    let public = creditrisk_model::signature::generate_key(&args.out)?;
    output::keygen(&args.out, &public);
    Ok(())
}

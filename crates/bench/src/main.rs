//! `creditrisk-bench`: measurements the benchmark scripts need and users do not.
//!
//! - `parse-floor RAW_DIR`: the time to parse each raw CSV once (`benches/feature_store.sh`);
//! - `bayes-auc --test SPLIT --truth TRUTH`: the AUC of the true synthetic PD on a split's rows,
//!   the best any model can reach (`benches/train.sh`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use creditrisk_base::Result;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::CsvReadOptions;

#[derive(Parser)]
#[command(name = "creditrisk-bench", about = "Benchmark aids for creditrisk")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse every raw CSV of a folder once with the catalog schema; print rows and seconds.
    ParseFloor { raw_dir: PathBuf },
    /// AUC of the true synthetic PD on the rows of a split (the best achievable).
    BayesAuc {
        #[arg(long)]
        test: PathBuf,
        #[arg(long)]
        truth: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(exec(cli.command)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

async fn exec(command: Command) -> Result<()> {
    match command {
        Command::ParseFloor { raw_dir } => {
            for (table, rows, seconds) in parse_floor(&raw_dir).await? {
                eprintln!("{table:<22} {rows:>11} rows parsed in {seconds:.2} s");
            }
        }
        Command::BayesAuc { test, truth } => {
            println!("{:.4}", creditrisk_ops::evaluate::bayes_auc(&test, &truth)?);
        }
    }
    Ok(())
}

/// The parsing floor: parse every typed raw CSV of `raw_dir` once, one table at a time, with the
/// reader the build uses (each table's batches are dropped once counted; in DataFusion's reader,
/// a `COUNT` of every column, so each value is parsed but nothing is kept). Returns (table, rows,
/// seconds) per file.
async fn parse_floor(raw_dir: &Path) -> Result<Vec<(String, u64, f64)>> {
    let ctx = creditrisk_data::raw::session();
    let mut out = vec![];
    for table in creditrisk_base::catalog::RawTable::ALL {
        let started = std::time::Instant::now();
        let path = raw_dir.join(table.file_name());
        let schema = table.arrow_schema();
        // The build's reader first (as `raw::load_csv`), DataFusion's when it declines the file.
        if let Some(parts) = creditrisk_data::raw::read_plain_csv(&ctx, &path, &schema).await? {
            let rows = parts.iter().flatten().map(|b| b.num_rows() as u64).sum();
            let seconds = started.elapsed().as_secs_f64();
            out.push((table.name().to_string(), rows, seconds));
            continue;
        }
        let options = CsvReadOptions::new().has_header(true).schema(&schema);
        ctx.register_csv(table.name(), path.to_string_lossy().as_ref(), options)
            .await?;
        let counts: Vec<String> = table
            .columns()
            .iter()
            .map(|c| format!("COUNT({})", creditrisk_data::raw::ident(c.name)))
            .collect();
        let sql = format!(
            "SELECT COUNT(*), {} FROM {}",
            counts.join(", "),
            table.name()
        );
        let batches = ctx.sql(&sql).await?.collect().await?;
        let rows = batches
            .first()
            .map(|b| b.column(0).as_primitive::<Int64Type>().value(0) as u64)
            .unwrap_or(0);
        out.push((
            table.name().to_string(),
            rows,
            started.elapsed().as_secs_f64(),
        ));
    }
    Ok(out)
}

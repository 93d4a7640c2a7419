//! The `creditrisk` binary: parses arguments and calls one stage entry function per subcommand.
//! It holds no logic; errors print as one line and map to exit codes (1 failed stage, 2 usage).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use creditrisk::evaluate::EvalSplit;
use creditrisk::{Config, Error};

#[derive(Parser)]
#[command(
    name = "creditrisk",
    version,
    about = "Probability-of-default platform for consumer lending"
)]
struct Cli {
    /// Configuration file (paths inside resolve against the folder above `configs/`).
    #[arg(long, global = true, default_value = "configs/baseline.yaml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate Kaggle-shaped synthetic raw data with a known true PD per applicant.
    Synth {
        /// Applicants in application_train.csv (test gets Kaggle's proportion); default `data.synth_rows`.
        #[arg(long)]
        rows: Option<usize>,
        /// Random seed; default `data.seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Output folder; default `paths.raw_dir`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify the configured raw sources (presence, size, rows, md5/sha256, header).
    Ingest,
    /// Check every raw column against its contract and build the SQL feature store.
    BuildFeatureStore {
        /// Feature-store file; default `features.store_file`.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Benchmark floor: only parse every raw CSV once with the catalog schema, then exit.
        #[arg(long, hide = true)]
        parse_only: bool,
    },
    /// Stratified, seeded train/test split of the labelled applicants, with leakage checks.
    SplitData,
    /// Fit preprocessing, learner and calibration on the training split into a model bundle.
    Train,
    /// Score a split with the latest bundle: metrics, PD bands, plots and an HTML report.
    Evaluate {
        #[arg(long, value_enum, default_value = "test")]
        split: SplitArg,
    },
    /// The main job: synthesise data if `paths.raw_dir` is empty, then run every stage.
    Demo,
    /// Benchmark aid: AUC of the true synthetic PD on the rows of a split (the best achievable).
    #[command(hide = true)]
    BayesAuc {
        #[arg(long)]
        test: PathBuf,
        #[arg(long)]
        truth: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SplitArg {
    Train,
    Test,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let cfg = Config::load(&cli.config)?;
    match cli.command {
        Command::Synth { rows, seed, out } => {
            let mut opts = creditrisk::synth::SynthOptions::new(
                rows.unwrap_or(cfg.data.synth_rows),
                seed.unwrap_or(cfg.data.seed),
                out.unwrap_or_else(|| cfg.raw_dir()),
                cfg.resolve(&cfg.paths.truth_file),
            );
            opts.progress = true;
            let s = creditrisk::synth::run(&opts)?;
            for f in &s.files {
                eprintln!(
                    "{:<22} {:>11} rows {:>14} bytes  {}",
                    f.table,
                    f.rows,
                    f.bytes,
                    f.path.display()
                );
            }
            eprintln!(
                "default rate {:.4}, {:.1} s",
                s.train_default_rate, s.seconds
            );
        }
        Command::Ingest => {
            let s = creditrisk::ingest::run(&cfg)?;
            for f in &s.sources {
                eprintln!(
                    "{:<22} {:>11} rows {:>14} bytes  {}",
                    f.table, f.rows, f.bytes, f.status
                );
            }
            eprintln!("ingestion summary: {}", s.report.display());
        }
        Command::BuildFeatureStore {
            parse_only: true, ..
        } => {
            for (table, rows, seconds) in creditrisk::features::parse_floor(&cfg.raw_dir())? {
                eprintln!("{table:<22} {rows:>11} rows parsed in {seconds:.2} s");
            }
        }
        Command::BuildFeatureStore { output, .. } => {
            creditrisk::features::build_feature_store(&cfg, output.as_deref())?;
        }
        Command::SplitData => {
            let s = creditrisk::split::run(&cfg)?;
            eprintln!(
                "train {} rows (default rate {:.4}) → {}\ntest {} rows (default rate {:.4}) → {}",
                s.train_rows,
                s.train_default_rate,
                s.train_file.display(),
                s.test_rows,
                s.test_default_rate,
                s.test_file.display()
            );
        }
        Command::Train => {
            let s = creditrisk::model::train(&cfg)?;
            let v = &s.validation;
            eprintln!(
                "{:?} on {} rows × {} features, {:.1} s; validation slice (calibration in-sample) AUC {:.4}, ECE {:.4}, Brier {:.4}\nbundle: {}",
                s.learner,
                s.rows_fit,
                s.features,
                s.seconds,
                v.roc_auc,
                v.ece,
                v.brier,
                s.model_dir.display()
            );
        }
        Command::Evaluate { split } => {
            let split = match split {
                SplitArg::Train => EvalSplit::Train,
                SplitArg::Test => EvalSplit::Test,
            };
            let s = creditrisk::evaluate::run(&cfg, split)?;
            print_evaluation(&s);
        }
        Command::Demo => {
            let s = creditrisk::pipeline::demo(&cfg)?;
            for stage in &s.stages {
                eprintln!("{:<20} {:>7.2} s", stage.stage, stage.seconds);
            }
            print_evaluation(&s.test);
        }
        Command::BayesAuc { test, truth } => {
            println!("{:.4}", creditrisk::evaluate::bayes_auc(&test, &truth)?);
        }
    }
    Ok(())
}

fn print_evaluation(s: &creditrisk::evaluate::EvalSummary) {
    let m = &s.metrics;
    eprintln!(
        "{} split, {} rows: AUC {:.4}  Gini {:.4}  KS {:.4}  ECE {:.4}  Brier {:.4} (base rate {:.4})  mean PD {:.4} vs default rate {:.4}",
        s.split.name(),
        m.rows,
        m.roc_auc,
        m.gini,
        m.ks,
        m.ece,
        m.brier,
        m.brier_base_rate,
        m.mean_pd,
        m.default_rate
    );
    eprintln!(
        "metrics: {}\nreport:  {}",
        s.metrics_file.display(),
        s.html_report.display()
    );
}

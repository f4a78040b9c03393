//! Command-line definitions only; `main.rs` turns them into settings and runs them.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use workbench::backend::Backend;
use workbench::fer::data::Split;

#[derive(Debug, Parser)]
#[command(
    name = "workbench",
    version,
    about = "Emotion-aware music recommendation, measured: train and evaluate a facial-expression CNN on FER2013 (Burn, CPU or GPU)",
    long_about = None,
    after_help = "Logs: set RUST_LOG=debug for more. CPU threads: RAYON_NUM_THREADS (default: all cores).\nData: see datasets/README.md for FER2013 (Kaggle) and its checksums."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a FER2013 model from an experiment config; checkpoints every epoch, selects on
    /// PublicTest, measures PrivateTest once, exports models/<name>.bpk and its card.
    #[command(name = "train-fer")]
    TrainFer(TrainFerArgs),
    /// Evaluate an exported model on a FER2013 split: accuracy, macro-F1, per-class precision and
    /// recall, confusion matrix; optionally with test-time augmentation.
    #[command(name = "eval-fer")]
    EvalFer(EvalFerArgs),
    /// Measure training and inference speed (img/s) of the FER networks on this machine.
    #[command(name = "bench-fer")]
    BenchFer(BenchFerArgs),
}

#[derive(Debug, Args)]
pub struct Common {
    /// Where exported models and their cards go.
    #[arg(long, default_value = "models", value_name = "DIR")]
    pub models_dir: PathBuf,
    /// Where run reports go (reports/fer/<run-id>/).
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports_dir: PathBuf,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// Skip rows that fail validation (counted and reported) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
}

#[derive(Debug, Args)]
pub struct TrainFerArgs {
    /// Experiment config (TOML): seed, data, model, optimiser, schedule, augmentation.
    #[arg(long, value_name = "TOML", required_unless_present = "run_id")]
    pub config: Option<PathBuf>,
    /// FER2013 as CSV (.csv or .csv.gz) or image folders (train/<label>/, test/<label>/).
    /// Default: the config's data.path, else datasets/fer2013/fer2013.csv.gz.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Override the config's number of epochs (not allowed with --resume).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Continue the latest unfinished run of this config (or --run-id) from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Name the run directory reports/fer/<RUN_ID> (default: <name>-<utc time>).
    #[arg(long, value_name = "RUN_ID")]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct EvalFerArgs {
    /// The model card (models/<name>.json); the weights are found beside it.
    #[arg(long, value_name = "JSON")]
    pub model: PathBuf,
    /// FER2013 CSV or image folders (default: the path the model was trained on, if present).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Which split to evaluate.
    #[arg(long, value_enum, default_value_t = Split::PrivateTest)]
    pub split: Split,
    /// Also report test-time augmentation: mirror (flip) and ten-crop.
    #[arg(long)]
    pub tta: bool,
    /// Faces per forward pass.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub batch_size: usize,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct BenchFerArgs {
    /// Which networks to time (fresh weights; speed does not depend on them).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "mini_xception,vgg",
        value_name = "ARCH,..."
    )]
    pub arch: Vec<String>,
    /// Input side in pixels (48 or 64).
    #[arg(long, default_value_t = 48, value_name = "PX")]
    pub input_size: usize,
    /// Also time an exported model, through its card.
    #[arg(long, value_name = "JSON")]
    pub model: Option<PathBuf>,
    /// Training batches of 64 to time per network (0: skip training).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub train_batches: usize,
    /// Seconds to run each inference measurement.
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    pub infer_seconds: f64,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

use crate::cli::{BenchArch, BenchFerArgs};
use anyhow::Result;
use workbench::fer::{bench, model::ModelConfig};

pub fn run(args: BenchFerArgs) -> Result<()> {
    let mut models = Vec::new();
    for arch in &args.arch {
        let (name, mut config) = match arch {
            BenchArch::MiniXception => ("mini_xception", ModelConfig::mini_xception()),
            BenchArch::Vgg => ("vgg", ModelConfig::vgg()),
            BenchArch::None => continue,
        };
        config.input_size = args.input_size;
        config.base_channels = args.base_channels;
        models.push((format!("{name} (fresh)"), config));
    }
    let results = bench::bench(&bench::BenchOptions {
        models,
        card: args.model,
        train_batches: args.train_batches,
        infer_seconds: args.infer_seconds,
        backend: args.backend,
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print!("{}", bench::table(&results));
    }
    Ok(())
}

use crate::cli::ClusterArgs;
use anyhow::Result;
use workbench::tracks::cluster;

pub fn run(args: ClusterArgs) -> Result<()> {
    let outcome = cluster::run(&cluster::ClusterOptions {
        data: cluster::resolve_data(args.data.as_deref())?,
        features: args.features.iter().map(|f| f.trim().to_string()).collect(),
        scaling: args.scaling,
        k: args.k,
        k_range: (!args.no_sweep).then_some(args.k_range),
        seeds: args.seeds,
        seed: args.seed,
        silhouette_sample: args.silhouette_sample,
        playlist_length: args.playlist_length,
        out: args.out,
        force: args.force,
        reports_dir: args.reports_dir,
        command: super::command_line(),
    })?;
    super::print_replaced(&outcome.replaced);
    if let Some(sweep) = &outcome.model.sweep {
        println!("{}", sweep.verdict.line(outcome.model.k));
    }
    for c in &outcome.model.moods.clusters {
        println!(
            "cluster {} ({} songs): {}",
            c.cluster, outcome.model.sizes[c.cluster], c.mood
        );
    }
    println!(
        "song model: {}\nreport: {}",
        outcome.model_path.display(),
        outcome.report_dir.join("index.html").display()
    );
    Ok(())
}

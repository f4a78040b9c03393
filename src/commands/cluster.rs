use crate::cli::ClusterArgs;
use anyhow::Result;
use workbench::tracks::agreement::{Agreement, Fold};
use workbench::tracks::cluster;

pub fn run(args: ClusterArgs) -> Result<()> {
    let fold = Fold::parse(&args.label_fold)?;
    let data = cluster::resolve_data(args.data.as_deref())?;
    if let (Some(model), Some(labels)) = (&args.model, &args.labels) {
        let (_, agreement) = cluster::measure_existing(model, &data, labels, &fold)?;
        print_agreement(&agreement);
        return Ok(());
    }
    let outcome = cluster::run(&cluster::ClusterOptions {
        data,
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
        labels: args.labels.map(|l| (l, fold)),
    })?;
    super::print_replaced(&outcome.replaced);
    if let Some(sweep) = &outcome.model.sweep {
        println!("{}", sweep.verdict.line(outcome.model.k));
    }
    for c in &outcome.model.moods.clusters {
        println!(
            "cluster {} ({} songs): {} ({})",
            c.cluster,
            outcome.model.sizes[c.cluster],
            c.mood,
            c.affect.describe()
        );
    }
    if let Some(a) = &outcome.agreement {
        print_agreement(a);
    }
    println!(
        "song model: {}\nreport: {}",
        outcome.model_path.display(),
        outcome.report_dir.join("index.html").display()
    );
    Ok(())
}

fn print_agreement(a: &Agreement) {
    print!("{}", a.table());
    if a.unknown_label + a.conflicting + a.not_in_catalogue > 0 {
        println!(
            "({} labels not in the fold{}, {} ids labelled two ways, {} labelled ids not in the catalogue)",
            a.unknown_label,
            if a.unknown_examples.is_empty() {
                String::new()
            } else {
                format!(", e.g. {}", a.unknown_examples.join("; "))
            },
            a.conflicting,
            a.not_in_catalogue
        );
    }
}

use crate::cli::BenchClusterArgs;
use anyhow::Result;
use workbench::tracks::{bench, cluster};

pub fn run(args: BenchClusterArgs) -> Result<()> {
    let (k_min, k_max) = args.k_range;
    let result = bench::bench(&bench::BenchOptions {
        data: cluster::resolve_data(args.data.as_deref())?,
        rows: args.rows,
        k_min,
        k_max,
        k: args.k,
        seeds: args.seeds,
        silhouette_sample: args.silhouette_sample,
        seed: args.seed,
        write_matrix: args.write_matrix,
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", result.table());
    }
    Ok(())
}

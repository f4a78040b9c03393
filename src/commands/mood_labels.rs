use crate::cli::MoodLabelsArgs;
use anyhow::Result;
use workbench::artifacts;
use workbench::tracks::{cluster, weak_labels};

pub fn run(args: MoodLabelsArgs) -> Result<()> {
    let data = cluster::resolve_data(args.data.as_deref())?;
    artifacts::check_replaceable(std::slice::from_ref(&args.out), args.force)?;
    let labels = weak_labels::derive(&data)?;
    let replaced = artifacts::set_aside(std::slice::from_ref(&args.out))?;
    artifacts::write_atomic(&args.out, weak_labels::to_csv(&labels.labels).as_bytes())?;
    super::print_replaced(&replaced);
    println!(
        "{} songs labelled from the playlist names of {} ({} rows; {} songs dropped: their playlists disagree)",
        labels.labels.len(),
        data.display(),
        labels.rows_read,
        labels.conflicting
    );
    for (mood, n) in &labels.counts {
        println!("  {mood}: {n}");
    }
    println!("labels: {}", args.out.display());
    Ok(())
}

//! The whole real FER2013 from ../shared (skipped, saying why, when absent): it loads without a
//! bad row, with the published split and class counts.

mod common;

use common::*;
use workbench::fer::data::Split;

#[test]
fn the_real_fer2013_has_the_published_splits_and_classes() {
    let Some(fer) = fer2013() else { return };
    assert!(fer.skipped.is_empty());
    assert_eq!(fer.source.format, "csv.gz");
    let expected: [(Split, [usize; 7]); 3] = [
        (Split::Training, [3995, 436, 4097, 7215, 4830, 3171, 4965]),
        (Split::PublicTest, [467, 56, 496, 895, 653, 415, 607]),
        (Split::PrivateTest, [491, 55, 528, 879, 594, 416, 626]),
    ];
    for (split, counts) in expected {
        assert_eq!(fer.split(split).class_counts(), counts, "{split}");
    }
    assert_eq!(fer.total(), 35_887);
    // The sha256 the model cards record is that of the file as stored.
    let sums = std::fs::read_to_string(shared_dir().join("datasets/fer2013/SHA256SUMS")).unwrap();
    assert!(
        sums.contains(&format!("{}  fer2013.csv.gz", fer.source.sha256)),
        "{}",
        fer.source.sha256
    );
    // Known quirk: twelve all-black faces.
    let black = Split::ALL
        .iter()
        .flat_map(|&s| {
            let faces = fer.split(s);
            (0..faces.len()).map(move |i| faces.image(i).iter().all(|&p| p == 0))
        })
        .filter(|&b| b)
        .count();
    assert_eq!(black, 12);
}

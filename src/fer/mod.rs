//! Facial-expression recognition on FER2013: data, augmentation, the one preprocessing path,
//! the networks, training with checkpoints, evaluation, model cards and benchmarks.

pub mod augment;
pub mod average;
pub mod bench;
pub mod card;
pub mod config;
pub mod data;
pub mod ensemble;
pub mod eval_fer;
pub mod evaluate;
pub mod inference;
pub mod model;
pub mod preprocess;
pub mod publish;
pub mod recipe;
pub mod run_report;
pub mod train;

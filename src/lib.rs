//! workbench: emotion-aware music recommendation, measured.
//!
//! Data flows one way: FER2013 → `fer` (train, evaluate, export a model with its card). Each
//! stage reads its inputs and writes its artifacts; the artifacts (model cards, run reports) are
//! the contracts between commands.

pub mod artifacts;
pub mod backend;
pub mod emotion;
pub mod fer;
pub mod infer;
pub mod progress;
pub mod report;
pub mod rng;
pub mod spotify;
pub mod tracks;
pub mod vision;

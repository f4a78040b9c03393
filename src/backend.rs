//! Which Burn device runs the networks. CPU (`flex`) is always built; CUDA and WGPU only with
//! the cargo features of the same names.

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Burn `flex` on the CPU (threads: RAYON_NUM_THREADS, default all cores).
    #[default]
    Cpu,
    /// Burn CUDA, device 0 (build with `--features cuda`).
    Cuda,
    /// Burn WGPU, the best adapter found (build with `--features wgpu`).
    Wgpu,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("this workbench was built without the `{0}` backend; rebuild with `cargo build --release --features {0}`")]
    NotBuilt(&'static str),
}

impl Backend {
    pub fn device(self) -> Result<Device, BackendError> {
        match self {
            Backend::Cpu => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::default())),
            #[allow(unreachable_patterns)]
            other => Err(BackendError::NotBuilt(other.name())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
            Backend::Wgpu => "wgpu",
        }
    }

    /// For model cards and reports: which backend, and on the CPU how many threads.
    pub fn describe(self) -> String {
        match self {
            Backend::Cpu => {
                let threads = std::env::var("RAYON_NUM_THREADS")
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
                format!("burn {} flex (CPU, {threads} threads)", burn_version())
            }
            Backend::Cuda => format!("burn {} cuda:0", burn_version()),
            Backend::Wgpu => format!("burn {} wgpu", burn_version()),
        }
    }
}

pub fn burn_version() -> &'static str {
    "0.22.1"
}

//! The trained network as `infer` and `serve` run it: every BatchNorm folded into the
//! convolution before it. At inference a BatchNorm is a fixed per-channel affine map
//! (γ·(y − μ)/√(σ² + ε) + β), so folding it into the convolution's weights and bias gives the
//! same outputs (to float rounding; a test holds it on real faces) without the four
//! whole-activation passes each BatchNorm costs in Burn (sub, div, mul, add). Training,
//! evaluation and saving keep [`FerNet`]; this is built from it after loading.

use crate::fer::model::{
    soft_vote, ConvBnRelu, FaceModel, FerNet, MiniXception, Vgg, XceptionModule,
};
use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, MaxPool2d};
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// [`FerNet`] with its BatchNorms folded away; same inputs, same logits.
// Built once per process and never moved in a loop: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum InferenceNet {
    MiniXception(FoldedXception),
    Vgg(FoldedVgg),
    Ensemble(Vec<InferenceNet>),
}

#[derive(Debug, Clone)]
pub struct FoldedXception {
    conv1: Conv2d,
    conv2: Conv2d,
    blocks: Vec<FoldedModule>,
    head: Conv2d,
}

/// One residual module: the shortcut and both pointwise convolutions carry their BatchNorm.
#[derive(Debug, Clone)]
struct FoldedModule {
    shortcut: Conv2d,
    depthwise1: Conv2d,
    pointwise1: Conv2d,
    depthwise2: Conv2d,
    pointwise2: Conv2d,
    pool: MaxPool2d,
}

#[derive(Debug, Clone)]
pub struct FoldedVgg {
    /// Each stage's two convolutions (ReLU after each), then its max-pool.
    stages: Vec<(Conv2d, Conv2d, MaxPool2d)>,
    squeeze: AdaptiveAvgPool2d,
    fc1: Linear,
    fc2: Linear,
}

/// `conv` followed by `bn`, as one convolution with a bias.
fn fold(conv: &Conv2d, bn: &BatchNorm) -> Conv2d {
    let scale = bn.gamma.val() / (bn.running_var.value() + bn.epsilon).sqrt();
    let [cout, _, _, _] = conv.weight.dims();
    let weight = conv.weight.val() * scale.clone().reshape([cout, 1, 1, 1]);
    let bias = match &conv.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([cout], &conv.weight.device()),
    };
    let bias = (bias - bn.running_mean.value()) * scale + bn.beta.val();
    Conv2d {
        weight: Param::from_tensor(weight),
        bias: Some(Param::from_tensor(bias)),
        ..conv.clone()
    }
}

impl InferenceNet {
    /// Folds a trained network (weights as loaded; the network is not changed).
    pub fn fold(net: &FerNet) -> InferenceNet {
        match net {
            FerNet::MiniXception(m) => InferenceNet::MiniXception(fold_xception(m)),
            FerNet::Vgg(m) => InferenceNet::Vgg(fold_vgg(m)),
            FerNet::Ensemble(members) => {
                InferenceNet::Ensemble(members.iter().map(InferenceNet::fold).collect())
            }
        }
    }

    /// Same contract as [`FerNet::forward`]: `[n, 1, s, s]` normalised faces → `[n, 7]` logits
    /// (an ensemble's are the log of its members' mean probabilities).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            InferenceNet::MiniXception(m) => m.forward(x),
            InferenceNet::Vgg(m) => m.forward(x),
            InferenceNet::Ensemble(members) => soft_vote(members, x),
        }
    }
}

impl FaceModel for InferenceNet {
    fn logits(&self, faces: Tensor<4>) -> Tensor<2> {
        self.forward(faces)
    }
}

fn fold_xception(m: &MiniXception) -> FoldedXception {
    FoldedXception {
        conv1: fold(&m.conv1, &m.bn1),
        conv2: fold(&m.conv2, &m.bn2),
        blocks: m.blocks.iter().map(fold_module).collect(),
        head: m.head.clone(),
    }
}

fn fold_module(b: &XceptionModule) -> FoldedModule {
    FoldedModule {
        shortcut: fold(&b.shortcut, &b.shortcut_bn),
        depthwise1: b.sep1.depthwise.clone(),
        pointwise1: fold(&b.sep1.pointwise, &b.bn1),
        depthwise2: b.sep2.depthwise.clone(),
        pointwise2: fold(&b.sep2.pointwise, &b.bn2),
        pool: b.pool.clone(),
    }
}

fn fold_vgg(m: &Vgg) -> FoldedVgg {
    let conv = |c: &ConvBnRelu| fold(&c.conv, &c.bn);
    FoldedVgg {
        stages: m
            .stages
            .iter()
            .map(|s| (conv(&s.a), conv(&s.b), s.pool.clone()))
            .collect(),
        squeeze: m.squeeze.clone(),
        fc1: m.fc1.clone(),
        fc2: m.fc2.clone(),
    }
}

impl FoldedXception {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = relu(self.conv1.forward(x));
        let mut x = relu(self.conv2.forward(x));
        for block in &self.blocks {
            let shortcut = block.shortcut.forward(x.clone());
            let y = relu(block.pointwise1.forward(block.depthwise1.forward(x)));
            let y = block.pointwise2.forward(block.depthwise2.forward(y));
            x = max_pool(y, &block.pool) + shortcut;
        }
        let x = self.head.forward(x);
        let [n, c, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([n, c])
    }
}

impl FoldedVgg {
    /// Dropout is the identity at inference, so it is left out.
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = x;
        for (a, b, pool) in &self.stages {
            x = max_pool(relu(b.forward(relu(a.forward(x)))), pool);
        }
        let x = self.squeeze.forward(x);
        let [n, c, h, w] = x.dims();
        let x = relu(self.fc1.forward(x.reshape([n, c * h * w])));
        self.fc2.forward(x)
    }
}

/// `pool` (square, undilated, floor mode: the networks' pools) computed on the plain array,
/// a row maximum then a column maximum per plane: the same numbers as Burn's `MaxPool2d` (a
/// test holds it), but Burn flex's pool walks every window through a generic 3-D kernel that
/// also records indices, and took a third of mini-Xception's inference time. "Same" padding as
/// Keras (output ⌈n/stride⌉, the extra padding at the bottom/right).
fn max_pool(x: Tensor<4>, pool: &MaxPool2d) -> Tensor<4> {
    let ([kernel, _], [stride, _]) = (pool.kernel_size, pool.stride);
    debug_assert!(pool.kernel_size == [kernel; 2] && pool.stride == [stride; 2]);
    debug_assert!(pool.dilation == [1, 1] && !pool.ceil_mode);
    let same = matches!(pool.padding, PaddingConfig2d::Same);
    debug_assert!(same || matches!(pool.padding, PaddingConfig2d::Valid));
    let [n, c, h, w] = x.dims();
    let device = x.device();
    let (rows, cols) = (
        Windows::new(h, kernel, stride, same),
        Windows::new(w, kernel, stride, same),
    );
    let data = x.into_data();
    let input: &[f32] = data.as_slice().expect("f32 activations");
    let mut out = vec![0.0f32; n * c * rows.out * cols.out];
    let mut row_max = vec![0.0f32; h * cols.out];
    for (plane, out) in input
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(rows.out * cols.out))
    {
        for (row, maxima) in plane
            .chunks_exact(w)
            .zip(row_max.chunks_exact_mut(cols.out))
        {
            for (o, m) in maxima.iter_mut().enumerate() {
                let (start, end) = cols.window(o);
                *m = row[start + 1..end]
                    .iter()
                    .fold(row[start], |a, &b| a.max(b));
            }
        }
        // Down the columns whole rows at a time (contiguous, so the compiler vectorises it).
        for (o, out_row) in out.chunks_exact_mut(cols.out).enumerate() {
            let (start, end) = rows.window(o);
            out_row.copy_from_slice(&row_max[start * cols.out..(start + 1) * cols.out]);
            for r in start + 1..end {
                let maxima = &row_max[r * cols.out..(r + 1) * cols.out];
                for (m, &v) in out_row.iter_mut().zip(maxima) {
                    *m = m.max(v);
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(out, [n, c, rows.out, cols.out]), &device)
}

/// The pooling windows along one side: output count and where each starts (before padding).
struct Windows {
    out: usize,
    kernel: usize,
    stride: usize,
    /// Padding before the first element (the rest goes after the last).
    before: usize,
    len: usize,
}

impl Windows {
    fn new(len: usize, kernel: usize, stride: usize, same: bool) -> Windows {
        let (out, before) = if same {
            let out = len.div_ceil(stride);
            let total = ((out - 1) * stride + kernel).saturating_sub(len);
            (out, total / 2)
        } else {
            ((len - kernel) / stride + 1, 0)
        };
        Windows {
            out,
            kernel,
            stride,
            before,
            len,
        }
    }

    /// The elements window `o` covers (its padding never wins a maximum, so it is left out).
    fn window(&self, o: usize) -> (usize, usize) {
        let start = (o * self.stride).saturating_sub(self.before);
        let end = (o * self.stride + self.kernel - self.before).min(self.len);
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Distribution;

    /// Every pool the networks use, on the sides they meet at 48 and 64 px inputs and on odd
    /// sides (where "same" pads on both ends): exactly Burn's numbers.
    #[test]
    fn max_pool_equals_burns_max_pool() {
        let device = Device::flex();
        device.seed(3);
        let pools = [
            MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Same)
                .init(),
            MaxPool2dConfig::new([2, 2]).init(),
        ];
        for pool in &pools {
            for (h, w) in [
                (44, 44),
                (22, 22),
                (11, 11),
                (6, 6),
                (60, 60),
                (7, 10),
                (5, 3),
            ] {
                let x = Tensor::<4>::random([2, 3, h, w], Distribution::Normal(0.0, 1.0), &device);
                let ours: Vec<f32> = max_pool(x.clone(), pool).into_data().try_to_vec().unwrap();
                let burns = pool.forward(x);
                let dims = burns.dims();
                let burns: Vec<f32> = burns.into_data().try_to_vec().unwrap();
                assert_eq!(ours, burns, "{pool:?} on {h}×{w} (out {dims:?})");
            }
        }
    }

    /// Both architectures and an ensemble, with BatchNorm statistics moved away from their
    /// initial (0, 1) by training-mode passes: folding keeps the logits.
    #[test]
    fn folding_keeps_the_logits_of_every_architecture() {
        use crate::fer::model::ModelConfig;
        let device = Device::flex().autodiff();
        device.seed(5);
        let mut small = ModelConfig::vgg();
        small.vgg_channels = vec![8, 16];
        let configs = [
            ModelConfig::mini_xception(),
            small.clone(),
            ModelConfig::ensemble(vec![small.clone(), small]),
        ];
        for config in configs {
            let net = config.init(&device);
            for _ in 0..3 {
                let x =
                    Tensor::<4>::random([8, 1, 48, 48], Distribution::Normal(0.3, 2.0), &device);
                let _ = net.forward(x);
            }
            let trained = net.valid();
            let x = Tensor::<4>::random(
                [4, 1, 48, 48],
                Distribution::Normal(0.0, 1.0),
                &trained.devices()[0],
            );
            let a: Vec<f32> = trained.forward(x.clone()).into_data().try_to_vec().unwrap();
            let b: Vec<f32> = InferenceNet::fold(&trained)
                .forward(x)
                .into_data()
                .try_to_vec()
                .unwrap();
            let worst = a
                .iter()
                .zip(&b)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst < 1e-3 * a.iter().fold(1.0f32, |m, v| m.max(v.abs())),
                "{:?}: {worst}",
                config.arch
            );
        }
    }
}

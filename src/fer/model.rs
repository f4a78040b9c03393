//! The two FER networks: mini-Xception (the Python `fer` library's topology) and a larger
//! VGG-style CNN, and ensembles of trained ones. Which one, and how its input is prepared, is
//! data ([`ModelConfig`]) saved in the model card; inference rebuilds the network from the card,
//! never from constants.

use crate::emotion::Emotion;
use crate::fer::evaluate::Tta;
use crate::fer::preprocess::{Normalization, Preprocessing};
use burn::module::{ModuleVisitor, ParamId};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    MiniXception,
    Vgg,
    /// Trained networks whose class probabilities are averaged; assembled by
    /// `workbench ensemble-fer`, never trained as one.
    Ensemble,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::MiniXception => "mini_xception",
            Arch::Vgg => "vgg",
            Arch::Ensemble => "ensemble",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub arch: Arch,
    /// Side of the square input: 48 (FER2013's own), 64 (the `fer` library's), or smaller (the
    /// face resized down: cheaper steps, see `bench-fer --input-size`).
    #[serde(default = "default_input_size")]
    pub input_size: usize,
    #[serde(default)]
    pub normalization: Normalization,
    /// mini-Xception: stem channels; its four modules have 2×, 4×, 8× and 16× as many.
    /// 8 is the `fer` library's model (58,423 parameters).
    #[serde(default = "default_base_channels")]
    pub base_channels: usize,
    /// VGG: channels of each stage of two 3×3 convolutions and a 2×2 max-pool.
    #[serde(default = "default_vgg_channels")]
    pub vgg_channels: Vec<usize>,
    /// VGG: dropout before each fully connected layer.
    #[serde(default = "default_dropout")]
    pub dropout: f64,
    /// Ensemble: the members' own settings, in the order their weights are stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<ModelConfig>,
    /// Test-time augmentation: the views of each face whose probabilities are averaged, in
    /// evaluation and in `infer` alike, so a card's accuracy is what its users get. Fixed
    /// before PrivateTest is measured. (Absent, "none", from cards of before.)
    #[serde(default, skip_serializing_if = "Tta::is_none")]
    pub test_time: Tta,
}

/// Input sides a network may read: from 32 px (four stride-2 stages leave a 2×2 map) to 64 px.
pub const INPUT_SIZES: std::ops::RangeInclusive<usize> = 32..=64;

fn default_input_size() -> usize {
    48
}
fn default_base_channels() -> usize {
    8
}
fn default_vgg_channels() -> Vec<usize> {
    vec![32, 64, 128, 256]
}
fn default_dropout() -> f64 {
    0.5
}

impl ModelConfig {
    pub fn mini_xception() -> Self {
        Self {
            arch: Arch::MiniXception,
            input_size: 48,
            normalization: Normalization::MinusOneToOne,
            base_channels: 8,
            vgg_channels: default_vgg_channels(),
            dropout: default_dropout(),
            members: Vec::new(),
            test_time: Tta::None,
        }
    }

    pub fn vgg() -> Self {
        Self {
            arch: Arch::Vgg,
            ..Self::mini_xception()
        }
    }

    pub fn preprocessing(&self) -> Preprocessing {
        Preprocessing {
            input_size: self.input_size,
            normalization: self.normalization,
        }
    }

    /// Parameters are checked before any work starts.
    pub fn check(&self) -> Result<(), String> {
        if !INPUT_SIZES.contains(&self.input_size) {
            return Err(format!(
                "model.input_size = {} (use {} to {} px)",
                self.input_size,
                INPUT_SIZES.start(),
                INPUT_SIZES.end()
            ));
        }
        match self.arch {
            Arch::MiniXception if !(1..=64).contains(&self.base_channels) => Err(format!(
                "model.base_channels = {} (use 1..=64)",
                self.base_channels
            )),
            Arch::Vgg if self.vgg_channels.is_empty() || self.vgg_channels.len() > 4 => {
                Err(format!(
                    "model.vgg_channels has {} stages (use 1 to 4)",
                    self.vgg_channels.len()
                ))
            }
            Arch::Vgg if self.vgg_channels.contains(&0) => {
                Err("model.vgg_channels holds a 0".into())
            }
            Arch::Vgg if !(0.0..1.0).contains(&self.dropout) => {
                Err(format!("model.dropout = {} (use 0 <= p < 1)", self.dropout))
            }
            Arch::Ensemble => self.check_members(),
            _ if !self.members.is_empty() => Err(format!(
                "model.members is only for arch = \"ensemble\", not {:?}",
                self.arch.name()
            )),
            _ => Ok(()),
        }
    }

    /// An ensemble's members are trained networks that read the same input.
    fn check_members(&self) -> Result<(), String> {
        if self.members.len() < 2 {
            return Err(format!(
                "an ensemble needs at least 2 members, this one has {}",
                self.members.len()
            ));
        }
        for (i, m) in self.members.iter().enumerate() {
            if m.arch == Arch::Ensemble {
                return Err(format!("ensemble member {i} is itself an ensemble"));
            }
            if !m.test_time.is_none() {
                return Err(format!(
                    "ensemble member {i} has test_time = {:?}; an ensemble's test-time augmentation is its own",
                    m.test_time.name()
                ));
            }
            m.check().map_err(|e| format!("ensemble member {i}: {e}"))?;
            if m.preprocessing() != self.preprocessing() {
                return Err(format!(
                    "ensemble member {i} reads {}×{} {:?} input, the ensemble {}×{} {:?}",
                    m.input_size,
                    m.input_size,
                    m.normalization,
                    self.input_size,
                    self.input_size,
                    self.normalization
                ));
            }
        }
        Ok(())
    }

    /// The settings of an ensemble of `members` (which must share their input).
    /// The members' settings joined; test-time augmentation is the ensemble's own (none until
    /// set), applied around the whole vote, never inside a member.
    pub fn ensemble(mut members: Vec<ModelConfig>) -> Self {
        let first = members.first().cloned().unwrap_or_else(Self::mini_xception);
        for member in &mut members {
            member.test_time = Tta::None;
        }
        Self {
            arch: Arch::Ensemble,
            input_size: first.input_size,
            normalization: first.normalization,
            members,
            ..Self::mini_xception()
        }
    }

    pub fn init(&self, device: &Device) -> FerNet {
        match self.arch {
            Arch::MiniXception => {
                FerNet::MiniXception(MiniXception::new(self.base_channels, device))
            }
            Arch::Vgg => FerNet::Vgg(Vgg::new(&self.vgg_channels, self.dropout, device)),
            Arch::Ensemble => {
                FerNet::Ensemble(self.members.iter().map(|m| m.init(device)).collect())
            }
        }
    }
}

/// Keras' BatchNormalization epsilon, kept so imported Keras weights would behave the same.
const BN_EPSILON: f64 = 1e-3;

fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(BN_EPSILON)
        .init(device)
}

/// A bias-free convolution: every one of them is followed by BatchNorm, whose shift makes a bias
/// redundant (as in the Keras original).
fn conv(cin: usize, cout: usize, kernel: usize) -> Conv2dConfig {
    Conv2dConfig::new([cin, cout], [kernel, kernel]).with_bias(false)
}

/// Depthwise 3×3 then pointwise 1×1, both without bias (Keras `SeparableConv2D`).
#[derive(Module, Debug)]
pub struct SeparableConv {
    pub(crate) depthwise: Conv2d,
    pub(crate) pointwise: Conv2d,
}

impl SeparableConv {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        Self {
            depthwise: conv(cin, cin, 3)
                .with_groups(cin)
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            pointwise: conv(cin, cout, 1).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        pointwise(&self.pointwise, self.depthwise.forward(x))
    }
}

/// A bias-free 1×1 convolution (stride 1 or 2) computed as a batched matrix product over the
/// pixels: the same parameter and the same outputs as `conv.forward`, but Burn flex's generic
/// convolution backward transposes and copies whole activations for 1×1 kernels, and as a matmul
/// mini-Xception trains faster (see `workbench bench-fer --train-batches`).
fn pointwise(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    debug_assert!(conv.kernel_size == [1, 1] && conv.bias.is_none() && conv.groups == 1);
    let x = match conv.stride {
        [1, 1] => x,
        [sh, sw] => x.slice(s![.., .., ..;sh as isize, ..;sw as isize]),
    };
    let [n, cin, h, w] = x.dims();
    let [cout, _, _, _] = conv.weight.dims();
    let weight = conv.weight.val().reshape([1, cout, cin]);
    weight
        .matmul(x.reshape([n, cin, h * w]))
        .reshape([n, cout, h, w])
}

/// One residual module of mini-Xception: two separable convolutions and a strided max-pool,
/// added to a strided 1×1 projection of the input.
#[derive(Module, Debug)]
pub struct XceptionModule {
    pub(crate) shortcut: Conv2d,
    pub(crate) shortcut_bn: BatchNorm,
    pub(crate) sep1: SeparableConv,
    pub(crate) bn1: BatchNorm,
    pub(crate) sep2: SeparableConv,
    pub(crate) bn2: BatchNorm,
    pub(crate) pool: MaxPool2d,
}

impl XceptionModule {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        Self {
            shortcut: conv(cin, cout, 1).with_stride([2, 2]).init(device),
            shortcut_bn: batch_norm(cout, device),
            sep1: SeparableConv::new(cin, cout, device),
            bn1: batch_norm(cout, device),
            sep2: SeparableConv::new(cout, cout, device),
            bn2: batch_norm(cout, device),
            // Keras "same" pooling: output ceil(n/2), the extra padding at bottom/right.
            pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Same)
                .init(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = self
            .shortcut_bn
            .forward(pointwise(&self.shortcut, x.clone()));
        let y = relu(self.bn1.forward(self.sep1.forward(x)));
        let y = self.bn2.forward(self.sep2.forward(y));
        self.pool.forward(y) + shortcut
    }
}

/// Arriaga et al. 2017, "Real-time Convolutional Neural Networks for Emotion and Gender
/// Classification": the network inside the Python `fer` library.
#[derive(Module, Debug)]
pub struct MiniXception {
    pub(crate) conv1: Conv2d,
    pub(crate) bn1: BatchNorm,
    pub(crate) conv2: Conv2d,
    pub(crate) bn2: BatchNorm,
    pub(crate) blocks: Vec<XceptionModule>,
    /// 3×3 convolution to one map per emotion, then global average pooling.
    pub(crate) head: Conv2d,
}

impl MiniXception {
    pub fn new(base: usize, device: &Device) -> Self {
        let widths = [base, base * 2, base * 4, base * 8, base * 16];
        Self {
            conv1: conv(1, base, 3).init(device),
            bn1: batch_norm(base, device),
            conv2: conv(base, base, 3).init(device),
            bn2: batch_norm(base, device),
            blocks: widths
                .windows(2)
                .map(|w| XceptionModule::new(w[0], w[1], device))
                .collect(),
            head: Conv2dConfig::new([widths[4], Emotion::COUNT], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = relu(self.bn1.forward(self.conv1.forward(x)));
        let mut x = relu(self.bn2.forward(self.conv2.forward(x)));
        for block in &self.blocks {
            x = block.forward(x);
        }
        let x = self.head.forward(x);
        let [n, c, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([n, c])
    }
}

#[derive(Module, Debug)]
pub struct ConvBnRelu {
    pub(crate) conv: Conv2d,
    pub(crate) bn: BatchNorm,
}

impl ConvBnRelu {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        Self {
            conv: conv(cin, cout, 3)
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            bn: batch_norm(cout, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }
}

#[derive(Module, Debug)]
pub struct VggStage {
    pub(crate) a: ConvBnRelu,
    pub(crate) b: ConvBnRelu,
    pub(crate) pool: MaxPool2d,
}

/// A VGG-style CNN: stages of two 3×3 conv+BN+ReLU and a 2×2 max-pool, then a 3×3 adaptive
/// pool and two fully connected layers with dropout.
#[derive(Module, Debug)]
pub struct Vgg {
    pub(crate) stages: Vec<VggStage>,
    pub(crate) squeeze: AdaptiveAvgPool2d,
    pub(crate) dropout: Dropout,
    pub(crate) fc1: Linear,
    pub(crate) fc2: Linear,
}

const VGG_HIDDEN: usize = 256;

impl Vgg {
    pub fn new(channels: &[usize], dropout: f64, device: &Device) -> Self {
        let mut cin = 1;
        let stages = channels
            .iter()
            .map(|&c| {
                let stage = VggStage {
                    a: ConvBnRelu::new(cin, c, device),
                    b: ConvBnRelu::new(c, c, device),
                    pool: MaxPool2dConfig::new([2, 2]).init(),
                };
                cin = c;
                stage
            })
            .collect();
        Self {
            stages,
            squeeze: AdaptiveAvgPool2dConfig::new([3, 3]).init(),
            dropout: DropoutConfig::new(dropout).init(),
            fc1: LinearConfig::new(cin * 9, VGG_HIDDEN).init(device),
            fc2: LinearConfig::new(VGG_HIDDEN, Emotion::COUNT).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = x;
        for stage in &self.stages {
            x = stage.pool.forward(stage.b.forward(stage.a.forward(x)));
        }
        let x = self.squeeze.forward(x);
        let [n, c, h, w] = x.dims();
        let x = x.reshape([n, c * h * w]);
        let x = relu(self.fc1.forward(self.dropout.forward(x)));
        self.fc2.forward(self.dropout.forward(x))
    }
}

/// Anything that turns `[n, 1, s, s]` normalised faces into `[n, 7]` logits in
/// [`Emotion::ALL`] order: the trained [`FerNet`], or the folded network `infer` runs
/// ([`crate::fer::inference::InferenceNet`]).
pub trait FaceModel {
    fn logits(&self, faces: Tensor<4>) -> Tensor<2>;
}

impl FaceModel for FerNet {
    fn logits(&self, faces: Tensor<4>) -> Tensor<2> {
        self.forward(faces)
    }
}

/// An ensemble's "logits": the log of its members' mean probabilities.
pub fn soft_vote(members: &[impl FaceModel], faces: Tensor<4>) -> Tensor<2> {
    let n = members.len() as f64;
    let summed = members
        .iter()
        .map(|m| softmax(m.logits(faces.clone()), 1))
        .reduce(|a, b| a + b)
        .expect("an ensemble has members");
    (summed / n).log()
}

/// Either network, or an ensemble of them; this is what gets trained, saved and loaded.
// One value per process, moved rarely: the size difference between variants costs nothing, and
// boxing would change the module's record paths (and so every saved model).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum FerNet {
    MiniXception(MiniXception),
    Vgg(Vgg),
    Ensemble(Vec<FerNet>),
}

impl FerNet {
    /// `[n, 1, s, s]` normalised faces → `[n, 7]` logits in [`Emotion::ALL`] order. An
    /// ensemble's "logits" are the log of its members' mean probabilities, so softmax of them
    /// gives that mean (the soft vote) and every caller treats both kinds alike.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            FerNet::MiniXception(m) => m.forward(x),
            FerNet::Vgg(m) => m.forward(x),
            FerNet::Ensemble(members) => soft_vote(members, x),
        }
    }

    /// Every BatchNorm layer, in the order the forward pass meets them (an ensemble's members
    /// in turn): what re-estimating their statistics after weight averaging walks.
    pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        match self {
            FerNet::MiniXception(m) => {
                let mut layers = vec![&mut m.bn1, &mut m.bn2];
                for b in &mut m.blocks {
                    layers.extend([&mut b.shortcut_bn, &mut b.bn1, &mut b.bn2]);
                }
                layers
            }
            FerNet::Vgg(m) => m
                .stages
                .iter_mut()
                .flat_map(|s| [&mut s.a.bn, &mut s.b.bn])
                .collect(),
            FerNet::Ensemble(members) => members
                .iter_mut()
                .flat_map(FerNet::batch_norms_mut)
                .collect(),
        }
    }

    /// Trainable parameters plus BatchNorm running statistics (mean and variance), the way
    /// Keras counts them, so the figure compares with the `fer` library's 58,423.
    pub fn parameter_count(&self) -> usize {
        struct BnStats(usize);
        impl ModuleVisitor for BnStats {
            fn visit_float_with_path<const D: usize>(
                &mut self,
                path: &[String],
                _: ParamId,
                t: &Tensor<D>,
            ) {
                if path.last().is_some_and(|p| p == "gamma") {
                    self.0 += 2 * t.shape().num_elements();
                }
            }
        }
        let mut stats = BnStats(0);
        self.visit(&mut stats);
        self.num_params() + stats.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mini_xception_matches_the_fer_library_size_at_both_input_sizes() {
        let device = Device::flex();
        let model = ModelConfig::mini_xception().init(&device);
        assert_eq!(model.parameter_count(), 58_423);
        for side in [48, 64] {
            let out = model.forward(Tensor::zeros([2, 1, side, side], &device));
            assert_eq!(out.dims(), [2, 7]);
        }
    }

    #[test]
    fn vgg_is_the_larger_network() {
        let device = Device::flex();
        let model = ModelConfig::vgg().init(&device);
        let n = model.parameter_count();
        assert!((1_500_000..2_000_000).contains(&n), "{n}");
        for side in [48, 64] {
            let out = model.forward(Tensor::zeros([2, 1, side, side], &device));
            assert_eq!(out.dims(), [2, 7]);
        }
    }

    #[test]
    fn bad_configs_are_refused() {
        let mut c = ModelConfig::mini_xception();
        c.input_size = 31;
        assert!(c.check().unwrap_err().contains("input_size"));
        c.input_size = 65;
        assert!(c.check().unwrap_err().contains("input_size"));
        c.input_size = 44;
        assert!(c.check().is_ok());
        let mut v = ModelConfig::vgg();
        v.vgg_channels.clear();
        assert!(v.check().is_err());
        v.vgg_channels = vec![8];
        v.dropout = 1.0;
        assert!(v.check().unwrap_err().contains("dropout"));
    }

    #[test]
    fn pointwise_as_matmul_equals_the_convolution_and_its_gradients() {
        use burn::tensor::Distribution;
        let device = Device::flex().autodiff();
        device.seed(7);
        // Odd sides too: a stride-2 1×1 convolution of 11 pixels gives 6, as the slice does.
        for (stride, side) in [(1, 12), (2, 12), (2, 11)] {
            let conv = conv(5, 9, 1).with_stride([stride, stride]).init(&device);
            let x = Tensor::<4>::random(
                [3, 5, side, side],
                Distribution::Uniform(-1.0, 1.0),
                &device,
            )
            .require_grad();
            let by_conv = conv.forward(x.clone());
            let by_matmul = pointwise(&conv, x.clone());
            assert_eq!(by_conv.dims(), by_matmul.dims());
            let close = |a: Tensor<4>, b: Tensor<4>| {
                let a: Vec<f32> = a.into_data().try_to_vec().unwrap();
                let b: Vec<f32> = b.into_data().try_to_vec().unwrap();
                a.iter()
                    .zip(&b)
                    .map(|(p, q)| (p - q).abs())
                    .fold(0.0f32, f32::max)
            };
            assert!(close(by_conv.clone(), by_matmul.clone()) < 1e-5);
            // Same gradients for the weight and the input (a weighted loss so they are not uniform).
            let weights =
                Tensor::<4>::random(by_conv.dims(), Distribution::Uniform(-1.0, 1.0), &device);
            let g1 = (by_conv * weights.clone()).sum().backward();
            let g2 = (by_matmul * weights).sum().backward();
            assert!(
                close(
                    conv.weight.grad(&g1).unwrap(),
                    conv.weight.grad(&g2).unwrap()
                ) < 1e-4
            );
            assert!(close(x.grad(&g1).unwrap(), x.grad(&g2).unwrap()) < 1e-5);
        }
    }
}

//! The one path from a grey face crop to model input. Training, evaluation, test-time
//! augmentation and `infer` (faces cropped from clips) all call [`Preprocessing::write_input`],
//! and the settings travel in the model card, so inference can never preprocess differently.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// How grey levels 0..=255 become model inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// `x / 127.5 - 1`, the Python `fer` library's convention.
    #[default]
    MinusOneToOne,
    /// `x / 255`.
    ZeroToOne,
}

impl Normalization {
    pub fn formula(self) -> &'static str {
        match self {
            Normalization::MinusOneToOne => "x / 127.5 - 1",
            Normalization::ZeroToOne => "x / 255",
        }
    }

    fn apply(self, grey: f32) -> f32 {
        match self {
            Normalization::MinusOneToOne => grey / 127.5 - 1.0,
            Normalization::ZeroToOne => grey / 255.0,
        }
    }
}

/// Where a face crop sits relative to the face detector's box, so that crops from clips are
/// framed as FER2013 frames its faces: a square of side `side` box widths, centred at the box
/// centre moved by `dx` box widths right and `dy` box heights down, turned so the eyes are
/// level (when the detector gives eyes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceFraming {
    pub side: f64,
    pub dx: f64,
    pub dy: f64,
}

/// FER2013's framing, measured, not guessed: YuNet (the default detector, at the settings
/// `infer` uses) run on the first 2,000 FER2013 Training faces upscaled 4× finds a face in
/// 1,968, and these are the medians of where the 48×48 image sits relative to its box: a
/// square 1.272 box widths wide, centred 0.007 box widths right of the box centre and 0.000
/// box heights below it; the eye line's median roll is −0.6°
/// (`workbench measure-framing --data fer2013.csv.gz` reproduces them; a test holds them).
pub const FER2013_FRAMING: FaceFraming = FaceFraming {
    side: 1.27,
    dx: 0.01,
    dy: 0.0,
};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Side of the square input, in pixels (48 is FER2013's own size; the `fer` library used 64).
    pub input_size: usize,
    pub normalization: Normalization,
}

impl Preprocessing {
    pub fn input_len(&self) -> usize {
        self.input_size * self.input_size
    }

    /// Resizes a `width`×`height` grey crop to the input size and normalises it into `out`
    /// (length `input_size²`, row-major).
    pub fn write_input(&self, grey: &[u8], width: usize, height: usize, out: &mut [f32]) {
        assert_eq!(
            grey.len(),
            width * height,
            "crop buffer does not match its size"
        );
        assert_eq!(out.len(), self.input_len());
        let side = self.input_size;
        if width == side && height == side {
            for (o, &g) in out.iter_mut().zip(grey) {
                *o = self.normalization.apply(g as f32);
            }
            return;
        }
        // Shrinking by 2× or more first averages whole blocks, so large crops from video frames
        // do not alias; the remaining (< 2×) change of scale is bilinear.
        let kx = (width / side).max(1);
        let ky = (height / side).max(1);
        let (src, sw, sh) = if kx > 1 || ky > 1 {
            box_downsample(grey, width, height, kx, ky)
        } else {
            (grey.iter().map(|&g| g as f32).collect(), width, height)
        };
        let sx = sw as f32 / side as f32;
        let sy = sh as f32 / side as f32;
        for y in 0..side {
            let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (sh - 1) as f32);
            let y0 = fy as usize;
            let y1 = (y0 + 1).min(sh - 1);
            let wy = fy - y0 as f32;
            for x in 0..side {
                let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (sw - 1) as f32);
                let x0 = fx as usize;
                let x1 = (x0 + 1).min(sw - 1);
                let wx = fx - x0 as f32;
                let top = src[y0 * sw + x0] * (1.0 - wx) + src[y0 * sw + x1] * wx;
                let bottom = src[y1 * sw + x0] * (1.0 - wx) + src[y1 * sw + x1] * wx;
                out[y * side + x] = self.normalization.apply(top * (1.0 - wy) + bottom * wy);
            }
        }
    }

    /// Builds an `[n, 1, side, side]` tensor from `n` inputs written by [`Self::write_input`].
    pub fn batch_tensor(&self, inputs: Vec<f32>, device: &Device) -> Tensor<4> {
        let n = inputs.len() / self.input_len();
        Tensor::from_data(
            TensorData::new(inputs, [n, 1, self.input_size, self.input_size]),
            device,
        )
    }
}

fn box_downsample(
    grey: &[u8],
    width: usize,
    height: usize,
    kx: usize,
    ky: usize,
) -> (Vec<f32>, usize, usize) {
    let (w, h) = (width / kx, height / ky);
    let norm = 1.0 / (kx * ky) as f32;
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0u32;
            for dy in 0..ky {
                let row = &grey[(y * ky + dy) * width + x * kx..][..kx];
                sum += row.iter().map(|&g| g as u32).sum::<u32>();
            }
            out[y * w + x] = sum as f32 * norm;
        }
    }
    (out, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_size_only_normalises() {
        let p = Preprocessing {
            input_size: 2,
            normalization: Normalization::MinusOneToOne,
        };
        let mut out = [0.0; 4];
        p.write_input(&[0, 255, 127, 128], 2, 2, &mut out);
        assert_eq!(out[0], -1.0);
        assert_eq!(out[1], 1.0);
        assert!(out[2].abs() < 0.01 && out[3].abs() < 0.01);
    }

    #[test]
    fn resizing_keeps_a_flat_image_flat_and_gradients_monotone() {
        let p = Preprocessing {
            input_size: 64,
            normalization: Normalization::ZeroToOne,
        };
        let mut out = vec![0.0; 64 * 64];
        p.write_input(&[51u8; 48 * 48], 48, 48, &mut out);
        assert!(out.iter().all(|v| (v - 0.2).abs() < 1e-6));

        let ramp: Vec<u8> = (0..200 * 100)
            .map(|i| ((i % 200) * 255 / 199) as u8)
            .collect();
        let p = Preprocessing {
            input_size: 48,
            normalization: Normalization::ZeroToOne,
        };
        let mut out = vec![0.0; 48 * 48];
        p.write_input(&ramp, 200, 100, &mut out);
        for row in out.chunks(48) {
            assert!(row.windows(2).all(|w| w[1] >= w[0]));
            assert!(row[0] < 0.05 && row[47] > 0.95, "{} {}", row[0], row[47]);
        }
    }
}

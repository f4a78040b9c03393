//! Training-time augmentation on 48×48 grey faces, set in the experiment config.
//!
//! One random affine map (shift, rotation, zoom, mirror) is sampled per face and applied with
//! bilinear sampling and edge replication, then optionally a random rectangle is erased. All
//! randomness comes from the caller's seeded generator.

use crate::fer::data::SIDE;
use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Mirror left–right with probability 0.5.
    pub hflip: bool,
    /// Largest shift in pixels along each axis (a random crop of a padded face).
    pub max_shift: f32,
    /// Largest rotation in degrees, either way.
    pub max_rotation_deg: f32,
    /// Largest zoom in or out, as a fraction (0.1 = 90 %–110 %).
    pub max_zoom: f32,
    /// Probability of random erasing (Zhong et al. 2017): a rectangle of 2–20 % of the face
    /// filled with noise.
    pub erasing_prob: f32,
}

impl Default for AugmentConfig {
    /// No augmentation at all: what evaluation sees.
    fn default() -> Self {
        Self {
            hflip: false,
            max_shift: 0.0,
            max_rotation_deg: 0.0,
            max_zoom: 0.0,
            erasing_prob: 0.0,
        }
    }
}

impl AugmentConfig {
    pub fn is_identity(&self) -> bool {
        *self == Self::default()
    }

    pub fn check(&self) -> Result<(), String> {
        let in_range = |name: &str, v: f32, lo: f32, hi: f32| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("augment.{name} = {v} is outside {lo}..={hi}"))
            }
        };
        in_range("max_shift", self.max_shift, 0.0, 12.0)?;
        in_range("max_rotation_deg", self.max_rotation_deg, 0.0, 45.0)?;
        in_range("max_zoom", self.max_zoom, 0.0, 0.5)?;
        in_range("erasing_prob", self.erasing_prob, 0.0, 1.0)
    }

    /// Writes an augmented copy of the 48×48 face `src` into `dst`.
    pub fn apply(&self, src: &[u8], dst: &mut [u8], rng: &mut SplitMix64) {
        debug_assert_eq!(src.len(), SIDE * SIDE);
        if self.is_identity() {
            dst.copy_from_slice(src);
            return;
        }
        let flip = self.hflip && rng.chance(0.5);
        let angle = rng
            .uniform(-self.max_rotation_deg, self.max_rotation_deg)
            .to_radians();
        let zoom = 1.0 + rng.uniform(-self.max_zoom, self.max_zoom);
        let (tx, ty) = (
            rng.uniform(-self.max_shift, self.max_shift),
            rng.uniform(-self.max_shift, self.max_shift),
        );
        warp(src, dst, flip, angle, zoom, tx, ty);
        if rng.chance(self.erasing_prob) {
            erase_rectangle(dst, rng);
        }
    }
}

/// Inverse-maps each output pixel through the affine transform about the face centre.
fn warp(src: &[u8], dst: &mut [u8], flip: bool, angle: f32, zoom: f32, tx: f32, ty: f32) {
    let c = (SIDE as f32 - 1.0) / 2.0;
    let (sin, cos) = angle.sin_cos();
    let last = (SIDE - 1) as f32;
    for y in 0..SIDE {
        for x in 0..SIDE {
            // Undo the shift, then rotation and zoom about the centre, then the mirror.
            let dx = x as f32 - c - tx;
            let dy = y as f32 - c - ty;
            let mut sx = (cos * dx + sin * dy) / zoom + c;
            let sy = (-sin * dx + cos * dy) / zoom + c;
            if flip {
                sx = last - sx;
            }
            let sx = sx.clamp(0.0, last);
            let sy = sy.clamp(0.0, last);
            let (x0, y0) = (sx as usize, sy as usize);
            let (x1, y1) = ((x0 + 1).min(SIDE - 1), (y0 + 1).min(SIDE - 1));
            let (wx, wy) = (sx - x0 as f32, sy - y0 as f32);
            let p = |xx: usize, yy: usize| src[yy * SIDE + xx] as f32;
            let v = (p(x0, y0) * (1.0 - wx) + p(x1, y0) * wx) * (1.0 - wy)
                + (p(x0, y1) * (1.0 - wx) + p(x1, y1) * wx) * wy;
            dst[y * SIDE + x] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
}

fn erase_rectangle(img: &mut [u8], rng: &mut SplitMix64) {
    let area = (SIDE * SIDE) as f32 * rng.uniform(0.02, 0.2);
    let aspect = rng.uniform(0.3f32.ln(), (1.0f32 / 0.3).ln()).exp();
    let h = ((area * aspect).sqrt().round() as usize).clamp(1, SIDE);
    let w = ((area / aspect).sqrt().round() as usize).clamp(1, SIDE);
    let top = rng.below(SIDE - h + 1);
    let left = rng.below(SIDE - w + 1);
    for y in top..top + h {
        for x in left..left + w {
            img[y * SIDE + x] = (rng.next_u64() & 0xff) as u8;
        }
    }
}

/// Mirrors a grey image `width` pixels wide left–right (test-time augmentation).
pub fn hflip(src: &[u8], width: usize) -> Vec<u8> {
    src.chunks(width)
        .flat_map(|row| row.iter().rev().copied())
        .collect()
}

/// The `w`×`h` crop at (`left`, `top`) of a grey image `width` pixels wide.
pub fn crop(
    src: &[u8],
    width: usize,
    (left, top): (usize, usize),
    (w, h): (usize, usize),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h);
    for y in top..top + h {
        out.extend_from_slice(&src[y * width + left..y * width + left + w]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> Vec<u8> {
        (0..SIDE * SIDE).map(|i| ((i % SIDE) * 5) as u8).collect()
    }

    #[test]
    fn identity_config_copies() {
        let src = face();
        let mut dst = vec![0; src.len()];
        AugmentConfig::default().apply(&src, &mut dst, &mut SplitMix64::new(1));
        assert_eq!(src, dst);
    }

    #[test]
    fn a_pure_flip_mirrors_exactly() {
        let src = face();
        let mut dst = vec![0; src.len()];
        warp(&src, &mut dst, true, 0.0, 1.0, 0.0, 0.0);
        assert_eq!(dst, hflip(&src, SIDE));
    }

    #[test]
    fn augmentation_is_seeded_and_changes_the_face() {
        let cfg = AugmentConfig {
            hflip: true,
            max_shift: 4.0,
            max_rotation_deg: 10.0,
            max_zoom: 0.1,
            erasing_prob: 0.5,
        };
        cfg.check().unwrap();
        let src = face();
        let run = |seed| {
            let mut rng = SplitMix64::new(seed);
            let mut dst = vec![0; src.len()];
            cfg.apply(&src, &mut dst, &mut rng);
            dst
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        assert_ne!(run(3), src);
        assert!(AugmentConfig {
            max_rotation_deg: 90.0,
            ..cfg
        }
        .check()
        .is_err());
    }

    #[test]
    fn crops_and_flips_have_the_right_pixels() {
        let src = face();
        let c = crop(&src, SIDE, (2, 3), (4, 5));
        assert_eq!(c.len(), 20);
        assert_eq!(c[0], src[3 * SIDE + 2]);
        assert_eq!(c[19], src[7 * SIDE + 5]);
        assert_eq!(hflip(&hflip(&src, SIDE), SIDE), src);
        // A 3×2 image, not square.
        assert_eq!(hflip(&[1, 2, 3, 4, 5, 6], 3), vec![3, 2, 1, 6, 5, 4]);
    }
}

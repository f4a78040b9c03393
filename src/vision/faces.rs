//! Faces by OpenCV's Haar cascade (`haarcascade_frontalface_default.xml` from Debian's
//! `opencv-data`). Frames wider than `detect_width` are downscaled for detection only; boxes
//! come back in frame pixels, and crops are cut from the full-resolution grey frame.

use super::BBox;
use opencv::core::{Mat, Rect, Size, Vector};
use opencv::prelude::*;
use opencv::{imgproc, objdetect};
use std::path::{Path, PathBuf};

pub const DEFAULT_CASCADE: &str =
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

#[derive(Debug, Clone, PartialEq)]
pub struct DetectorParams {
    pub cascade: PathBuf,
    pub scale_factor: f64,
    pub min_neighbors: i32,
    /// Smallest face side, in frame pixels.
    pub min_face: i32,
    /// Frames wider than this are downscaled to it for detection.
    pub detect_width: i32,
}

impl Default for DetectorParams {
    fn default() -> Self {
        Self {
            cascade: DEFAULT_CASCADE.into(),
            scale_factor: 1.1,
            min_neighbors: 5,
            min_face: 30,
            detect_width: 320,
        }
    }
}

impl DetectorParams {
    /// Settings OpenCV would reject with a raw assertion, refused up front with the option's
    /// name.
    pub fn check(&self) -> Result<(), FaceError> {
        let bad =
            |option: &'static str, message: String| Err(FaceError::Setting { option, message });
        if !(self.scale_factor > 1.0 && self.scale_factor <= 4.0) {
            return bad(
                "--scale-factor",
                format!(
                    "{} must be above 1 (e.g. 1.1) and at most 4",
                    self.scale_factor
                ),
            );
        }
        if self.min_neighbors < 0 {
            return bad(
                "min_neighbors",
                format!("{} must be 0 or more", self.min_neighbors),
            );
        }
        if self.min_face < 1 {
            return bad(
                "--min-face",
                format!("{} must be at least 1 pixel", self.min_face),
            );
        }
        if self.detect_width < MIN_DETECT_WIDTH {
            return bad(
                "--detect-width",
                format!(
                    "{} must be at least {MIN_DETECT_WIDTH} pixels (the cascade's window is 24)",
                    self.detect_width
                ),
            );
        }
        Ok(())
    }
}

/// Narrower detection images cannot hold a face the cascade can see.
pub const MIN_DETECT_WIDTH: i32 = 48;

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("{option} {message}")]
    Setting {
        option: &'static str,
        message: String,
    },
    #[error("{0}: face cascade not found (install Debian's opencv-data, or pass --cascade PATH)")]
    CascadeMissing(PathBuf),
    #[error("{path}: not a usable Haar cascade: {message}")]
    CascadeInvalid { path: PathBuf, message: String },
    #[error("face detection: {0}")]
    OpenCv(#[from] opencv::Error),
}

pub struct FaceDetector {
    cascade: objdetect::CascadeClassifier,
    params: DetectorParams,
}

impl FaceDetector {
    pub fn new(params: DetectorParams) -> Result<Self, FaceError> {
        params.check()?;
        let path: &Path = &params.cascade;
        if !path.is_file() {
            return Err(FaceError::CascadeMissing(path.into()));
        }
        let invalid = |message: String| FaceError::CascadeInvalid {
            path: path.into(),
            message,
        };
        let cascade = objdetect::CascadeClassifier::new(
            path.to_str()
                .ok_or_else(|| invalid("path is not UTF-8".into()))?,
        )
        .map_err(|e| invalid(e.to_string()))?;
        if cascade.empty().map_err(|e| invalid(e.to_string()))? {
            return Err(invalid("OpenCV loaded nothing from it".into()));
        }
        Ok(Self { cascade, params })
    }

    /// All faces in a grey frame, largest first.
    pub fn detect(&mut self, grey: &Mat) -> Result<Vec<BBox>, FaceError> {
        let whole = Rect::new(0, 0, grey.cols(), grey.rows());
        self.detect_region(grey, whole, self.params.min_face, 0)
    }

    /// Faces near the boxes of an earlier frame: each box's neighbourhood (the box grown by half
    /// its side on every edge) is searched for faces of 0.6–1.6× its size. Far cheaper than a
    /// whole-frame search; `infer` uses it between whole-frame key frames.
    pub fn detect_near(&mut self, grey: &Mat, around: &[BBox]) -> Result<Vec<BBox>, FaceError> {
        let mut found: Vec<BBox> = Vec::new();
        for b in around {
            let side = b.w.max(b.h);
            let grow = side / 2;
            let x0 = (b.x - grow).max(0);
            let y0 = (b.y - grow).max(0);
            let x1 = (b.x + b.w + grow).min(grey.cols());
            let y1 = (b.y + b.h + grow).min(grey.rows());
            if x1 - x0 < 8 || y1 - y0 < 8 {
                continue;
            }
            let min_side = ((side as f64 * 0.6) as i32).max(self.params.min_face);
            let max_side = (side as f64 * 1.6) as i32;
            for f in self.detect_region(
                grey,
                Rect::new(x0, y0, x1 - x0, y1 - y0),
                min_side,
                max_side,
            )? {
                // The same face can be found from two neighbouring boxes.
                if found.iter().all(|g| g.iou(&f) < 0.5) {
                    found.push(f);
                }
            }
        }
        found.sort_by(|a, b| b.area().total_cmp(&a.area()));
        Ok(found)
    }

    /// Faces inside `region` with sides in `min_side..=max_side` frame pixels (0: no maximum).
    fn detect_region(
        &mut self,
        grey: &Mat,
        region: Rect,
        min_side: i32,
        max_side: i32,
    ) -> Result<Vec<BBox>, FaceError> {
        let view = Mat::roi(grey, region)?;
        let (w, h) = (region.width, region.height);
        let scale = if w > self.params.detect_width {
            self.params.detect_width as f64 / w as f64
        } else {
            1.0
        };
        let mut equalised = Mat::default();
        if scale < 1.0 {
            let mut small = Mat::default();
            imgproc::resize(
                &view,
                &mut small,
                Size::new(
                    (w as f64 * scale).round() as i32,
                    (h as f64 * scale).round() as i32,
                ),
                0.0,
                0.0,
                imgproc::INTER_AREA,
            )?;
            imgproc::equalize_hist(&small, &mut equalised)?;
        } else {
            imgproc::equalize_hist(&view, &mut equalised)?;
        }
        let min_scaled = ((min_side as f64 * scale).round() as i32).max(20);
        let max_scaled = (max_side as f64 * scale).round() as i32;
        let mut found = Vector::<Rect>::new();
        self.cascade.detect_multi_scale(
            &equalised,
            &mut found,
            self.params.scale_factor,
            self.params.min_neighbors,
            0,
            Size::new(min_scaled, min_scaled),
            Size::new(max_scaled.max(0), max_scaled.max(0)),
        )?;
        let mut boxes: Vec<BBox> = found
            .iter()
            .map(|r| {
                let x = (r.x as f64 / scale).round() as i32;
                let y = (r.y as f64 / scale).round() as i32;
                let bw = ((r.width as f64 / scale).round() as i32).min(w - x);
                let bh = ((r.height as f64 / scale).round() as i32).min(h - y);
                BBox {
                    x: x + region.x,
                    y: y + region.y,
                    w: bw,
                    h: bh,
                }
            })
            .filter(|b| b.w >= self.params.min_face && b.h >= self.params.min_face)
            .collect();
        boxes.sort_by(|a, b| b.area().total_cmp(&a.area()));
        Ok(boxes)
    }
}

/// BGR (or already grey) frame → one grey channel.
pub fn to_grey(frame: &Mat) -> Result<Mat, opencv::Error> {
    if frame.channels() == 1 {
        return frame.try_clone();
    }
    let mut grey = Mat::default();
    let code = if frame.channels() == 4 {
        imgproc::COLOR_BGRA2GRAY
    } else {
        imgproc::COLOR_BGR2GRAY
    };
    imgproc::cvt_color_def(frame, &mut grey, code)?;
    Ok(grey)
}

/// The grey pixels inside `b` (clamped to the frame), row-major, with their width and height.
pub fn crop_grey(grey: &Mat, b: BBox) -> Result<(Vec<u8>, usize, usize), opencv::Error> {
    let x = b.x.clamp(0, grey.cols() - 1);
    let y = b.y.clamp(0, grey.rows() - 1);
    let w = b.w.min(grey.cols() - x).max(1);
    let h = b.h.min(grey.rows() - y).max(1);
    let roi = Mat::roi(grey, Rect::new(x, y, w, h))?;
    let owned = roi.try_clone()?;
    Ok((owned.data_bytes()?.to_vec(), w as usize, h as usize))
}

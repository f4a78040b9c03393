//! FER2013 faces seen through the detector: where YuNet puts its box on a FER2013 face (which
//! fixes how crops from clips are framed, [`FER2013_FRAMING`]), and the faces as `infer` would
//! crop them (detect → align → crop), for `eval-fer --through-detector`.
//!
//! A FER2013 face is 48×48; it is upscaled 4× (bicubic) into a 192×192 "frame", the size of a
//! face in a typical clip, and the detector runs on that frame exactly as in `infer`.

use super::faces::{self, DetectorParams, Face, FaceDetector, FaceError};
use crate::fer::data::{FaceSet, SIDE};
use crate::fer::preprocess::{FaceFraming, FER2013_FRAMING};
use opencv::core::{Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;

/// How much a FER2013 face is upscaled to become a frame.
pub const UPSCALE: i32 = 4;

/// Where the detector's boxes sit on FER2013 faces.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FramingMeasurement {
    /// The medians, as a framing.
    pub framing: FaceFraming,
    pub faces: usize,
    pub found: usize,
    /// Median roll of the eye line, degrees (FER2013 faces are roughly upright).
    pub eye_angle_deg: f64,
}

/// The face as a 192×192 grey frame.
fn as_frame(face: &[u8]) -> Result<Mat, opencv::Error> {
    let small = Mat::new_rows_cols_with_data(SIDE as i32, SIDE as i32, face)?;
    let mut big = Mat::default();
    let side = SIDE as i32 * UPSCALE;
    imgproc::resize(
        &small,
        &mut big,
        Size::new(side, side),
        0.0,
        0.0,
        imgproc::INTER_CUBIC,
    )?;
    Ok(big)
}

/// The largest face the detector finds on the upscaled face, if any.
fn detect(detector: &mut FaceDetector, face: &[u8]) -> Result<Option<(Mat, Face)>, FaceError> {
    let frame = as_frame(face)?;
    let found = detector.detect(&frame)?;
    Ok(found.first().copied().map(|f| (frame, f)))
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the detector on the first `limit` faces of `faces` and measures the framing.
pub fn measure(
    faces: &FaceSet,
    limit: usize,
    params: &DetectorParams,
) -> Result<FramingMeasurement, FaceError> {
    let mut detector = FaceDetector::new(params.clone())?;
    let (mut sides, mut dxs, mut dys, mut angles) = (vec![], vec![], vec![], vec![]);
    let n = faces.len().min(limit);
    let centre = (SIDE as i32 * UPSCALE) as f64 / 2.0;
    for i in 0..n {
        let Some((_, f)) = detect(&mut detector, faces.image(i))? else {
            continue;
        };
        let b = f.bbox;
        let (w, h) = (b.w as f64, b.h as f64);
        sides.push(2.0 * centre / w);
        dxs.push((centre - (b.x as f64 + w / 2.0)) / w);
        dys.push((centre - (b.y as f64 + h / 2.0)) / h);
        if let Some(p) = f.landmarks {
            angles.push(
                ((p[1][1] - p[0][1]) as f64)
                    .atan2((p[1][0] - p[0][0]) as f64)
                    .to_degrees(),
            );
        }
    }
    let found = sides.len();
    Ok(FramingMeasurement {
        framing: FaceFraming {
            side: median(sides),
            dx: median(dxs),
            dy: median(dys),
        },
        faces: n,
        found,
        eye_angle_deg: median(angles),
    })
}

/// The faces the detector finds, cropped as `infer` crops them (aligned, framed as FER2013's,
/// resized to 48×48), with their labels; and how many of `faces` were found.
pub fn through_detector(
    faces: &FaceSet,
    params: &DetectorParams,
) -> Result<(FaceSet, usize), FaceError> {
    let mut detector = FaceDetector::new(params.clone())?;
    let mut seen = FaceSet::default();
    for i in 0..faces.len() {
        let Some((frame, f)) = detect(&mut detector, faces.image(i))? else {
            continue;
        };
        let (pixels, w, h) = faces::face_crop(&frame, &f, &FER2013_FRAMING)?;
        let crop = Mat::new_rows_cols_with_data(h as i32, w as i32, &pixels)?;
        let mut small = Mat::default();
        imgproc::resize(
            &crop,
            &mut small,
            Size::new(SIDE as i32, SIDE as i32),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )?;
        seen.push(small.data_bytes()?, faces.label(i));
    }
    let found = seen.len();
    Ok((seen, found))
}

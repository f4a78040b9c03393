//! Faces in grey frames, by YuNet (the default: OpenCV's `FaceDetectorYN` with the committed
//! `models/face_detection_yunet_2022mar.onnx`, boxes and 5 landmarks) or by a Haar or LBP
//! cascade (Debian's `opencv-data`, boxes only). Frames are downscaled for detection only (the
//! rule: [`yunet_input_width`], or `detect_width` for cascades); boxes and landmarks come back in
//! frame pixels, and crops are cut from the full-resolution grey frame.

use super::BBox;
use opencv::core::{Mat, Rect, Size, Vector};
use opencv::prelude::*;
use opencv::{imgproc, objdetect};
use std::path::{Path, PathBuf};

pub const DEFAULT_CASCADE: &str =
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";
pub const LBP_CASCADE: &str = "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml";
/// The YuNet export that Debian's OpenCV 4.6 runs (later exports load but fail in `detect`).
pub const DEFAULT_YUNET: &str = "models/face_detection_yunet_2022mar.onnx";

/// Which face detector runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// YuNet (a small CNN, Yu et al. 2023): boxes and 5 landmarks, fast at reduced size.
    Yunet,
    /// OpenCV's Haar cascade (Viola–Jones): boxes only.
    Haar,
    /// OpenCV's LBP cascade: boxes only, faster than Haar.
    Lbp,
}

impl DetectorKind {
    /// The model file used when none is given.
    pub fn default_model(self) -> &'static str {
        match self {
            DetectorKind::Yunet => DEFAULT_YUNET,
            DetectorKind::Haar => DEFAULT_CASCADE,
            DetectorKind::Lbp => LBP_CASCADE,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DetectorKind::Yunet => "YuNet",
            DetectorKind::Haar => "Haar cascade",
            DetectorKind::Lbp => "LBP cascade",
        }
    }
}

/// The smallest face side, in the detector's own input pixels, that YuNet finds reliably (its
/// finest anchors are 10–16 px at stride 8).
pub const YUNET_MIN_FACE_INPUT: i32 = 12;
/// The narrowest YuNet input worth using, and the measured sweet spot (112–128 px wide).
pub const YUNET_BASE_WIDTH: i32 = 128;

/// The width a `w`-pixel-wide image is scaled to for YuNet: wide enough that a face of
/// `min_face` frame pixels is still [`YUNET_MIN_FACE_INPUT`] input pixels, never narrower than
/// 128 px (the sweet spot) and never wider than the image; rounded up to a multiple of 32.
pub fn yunet_input_width(w: i32, min_face: i32) -> i32 {
    let needed = (w as f64 * YUNET_MIN_FACE_INPUT as f64 / min_face.max(1) as f64).ceil() as i32;
    let width = needed.max(YUNET_BASE_WIDTH).min(w.max(64));
    (width + 31) / 32 * 32
}

/// A face found in a frame: its box, YuNet's 5 landmarks (right eye, left eye, nose tip, right
/// and left mouth corners, in frame pixels; none from a cascade) and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    pub bbox: BBox,
    pub landmarks: Option<[[f32; 2]; 5]>,
    pub score: f32,
}

impl Face {
    fn from_box(bbox: BBox) -> Face {
        Face {
            bbox,
            landmarks: None,
            score: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DetectorParams {
    pub kind: DetectorKind,
    /// The ONNX (YuNet) or XML (cascade) file.
    pub model: PathBuf,
    /// YuNet: faces scoring below this are dropped.
    pub score_threshold: f32,
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
            kind: DetectorKind::Yunet,
            model: DEFAULT_YUNET.into(),
            score_threshold: 0.7,
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
    #[error("{path}: face detector model not found ({hint})")]
    ModelMissing { path: PathBuf, hint: &'static str },
    #[error("{path}: not a usable YuNet model: {message}")]
    YunetInvalid { path: PathBuf, message: String },
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

/// The grey crop of `face` that the FER model reads: with landmarks (YuNet), a square framed by
/// `framing` around the box and turned so the eyes are level, sampled straight from the frame
/// (one bilinear warp; parts outside the frame repeat its edge); without (a cascade), the box
/// itself. Returns (pixels, width, height), row-major.
pub fn face_crop(
    grey: &Mat,
    face: &Face,
    framing: &crate::fer::preprocess::FaceFraming,
) -> Result<(Vec<u8>, usize, usize), opencv::Error> {
    let Some(points) = face.landmarks else {
        return crop_grey(grey, face.bbox);
    };
    let b = face.bbox;
    let (right_eye, left_eye) = (points[0], points[1]);
    let angle = ((left_eye[1] - right_eye[1]) as f64).atan2((left_eye[0] - right_eye[0]) as f64);
    let side = framing.side * b.w as f64;
    let cx = b.x as f64 + b.w as f64 / 2.0 + framing.dx * b.w as f64;
    let cy = b.y as f64 + b.h as f64 / 2.0 + framing.dy * b.h as f64;
    // Output at most 96 px: the model reads 48 or 64, and the preprocessing averages down.
    let n = (side.round() as i32).clamp(8, 96);
    let k = side / n as f64;
    let (cos, sin) = (angle.cos() * k, angle.sin() * k);
    let half = n as f64 / 2.0;
    // Output pixel (u, v) samples the frame at centre + R(angle)·k·(u − n/2, v − n/2).
    let m = Mat::from_slice_2d(&[
        [cos, -sin, cx - cos * half + sin * half],
        [sin, cos, cy - sin * half - cos * half],
    ])?;
    let mut out = Mat::default();
    imgproc::warp_affine(
        grey,
        &mut out,
        &m,
        Size::new(n, n),
        imgproc::INTER_LINEAR | imgproc::WARP_INVERSE_MAP,
        opencv::core::BORDER_REPLICATE,
        opencv::core::Scalar::default(),
    )?;
    Ok((out.data_bytes()?.to_vec(), n as usize, n as usize))
}

/// A frame as one grey channel (OpenCV gives BGR or BGRA).
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

/// The network or cascade behind a [`FaceDetector`].
enum Engine {
    Cascade(objdetect::CascadeClassifier),
    Yunet(opencv::core::Ptr<objdetect::FaceDetectorYN>),
}

/// One detector; not `Sync`, so `infer` keeps one per thread.
pub struct FaceDetector {
    engine: Engine,
    params: DetectorParams,
}

impl FaceDetector {
    pub fn new(params: DetectorParams) -> Result<Self, FaceError> {
        params.check()?;
        let path: &Path = &params.model;
        let engine = match params.kind {
            DetectorKind::Yunet => Engine::Yunet(load_yunet(path, params.score_threshold)?),
            DetectorKind::Haar | DetectorKind::Lbp => Engine::Cascade(load_cascade(path)?),
        };
        Ok(Self { engine, params })
    }

    /// All faces in a grey frame, largest first.
    pub fn detect(&mut self, grey: &Mat) -> Result<Vec<Face>, FaceError> {
        let whole = Rect::new(0, 0, grey.cols(), grey.rows());
        self.detect_region(grey, whole, self.params.min_face, 0)
    }

    /// Faces near the boxes of an earlier frame: each box's neighbourhood (the box grown by half
    /// its side on every edge) is searched for faces of 0.6–1.6× its size. Far cheaper than a
    /// whole-frame search; `infer` uses it between whole-frame key frames.
    pub fn detect_near(&mut self, grey: &Mat, around: &[BBox]) -> Result<Vec<Face>, FaceError> {
        let mut found: Vec<Face> = Vec::new();
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
            let region = Rect::new(x0, y0, x1 - x0, y1 - y0);
            for f in self.detect_region(grey, region, min_side, max_side)? {
                // The same face can be found from two neighbouring boxes.
                if found.iter().all(|g| g.bbox.iou(&f.bbox) < 0.5) {
                    found.push(f);
                }
            }
        }
        found.sort_by(|a, b| b.bbox.area().total_cmp(&a.bbox.area()));
        Ok(found)
    }

    /// Faces inside `region` with sides in `min_side..=max_side` frame pixels (0: no maximum),
    /// largest first.
    fn detect_region(
        &mut self,
        grey: &Mat,
        region: Rect,
        min_side: i32,
        max_side: i32,
    ) -> Result<Vec<Face>, FaceError> {
        let view = Mat::roi(grey, region)?;
        let mut faces = match &mut self.engine {
            Engine::Cascade(cascade) => {
                cascade_faces(cascade, &self.params, &view, min_side, max_side)?
            }
            Engine::Yunet(net) => yunet_faces(net, &view, min_side)?,
        };
        for f in faces.iter_mut() {
            f.bbox.x += region.x;
            f.bbox.y += region.y;
            if let Some(points) = f.landmarks.as_mut() {
                for p in points.iter_mut() {
                    p[0] += region.x as f32;
                    p[1] += region.y as f32;
                }
            }
        }
        faces.retain(|f| {
            let side = f.bbox.w.max(f.bbox.h);
            side >= min_side && (max_side == 0 || side <= max_side)
        });
        faces.sort_by(|a, b| b.bbox.area().total_cmp(&a.bbox.area()));
        Ok(faces)
    }
}

fn load_cascade(path: &Path) -> Result<objdetect::CascadeClassifier, FaceError> {
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
    Ok(cascade)
}

/// Loads YuNet and runs it once on a blank image: OpenCV 4.6 loads later exports but fails in
/// `detect`, so a model that cannot detect is refused here, naming the file.
fn load_yunet(
    path: &Path,
    score_threshold: f32,
) -> Result<opencv::core::Ptr<objdetect::FaceDetectorYN>, FaceError> {
    if !path.is_file() {
        return Err(FaceError::ModelMissing {
            path: path.into(),
            hint: "the workbench ships models/face_detection_yunet_2022mar.onnx; or pass --detector-model PATH, or --detector haar",
        });
    }
    let invalid = |message: String| FaceError::YunetInvalid {
        path: path.into(),
        message,
    };
    let name = path
        .to_str()
        .ok_or_else(|| invalid("path is not UTF-8".into()))?;
    let input = Size::new(YUNET_BASE_WIDTH, YUNET_BASE_WIDTH);
    let mut net =
        objdetect::FaceDetectorYN::create(name, "", input, score_threshold, 0.3, 50, 0, 0)
            .map_err(|e| invalid(e.to_string()))?;
    let blank = Mat::new_rows_cols_with_default(
        input.height,
        input.width,
        opencv::core::CV_8UC3,
        0.into(),
    )?;
    let mut out = Mat::default();
    net.detect(&blank, &mut out)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(net)
}

/// The cascade on `view`, downscaled to `detect_width` when wider, equalised.
fn cascade_faces(
    cascade: &mut objdetect::CascadeClassifier,
    params: &DetectorParams,
    view: &View,
    min_side: i32,
    max_side: i32,
) -> Result<Vec<Face>, FaceError> {
    let (w, h) = (view.cols(), view.rows());
    let scale = if w > params.detect_width {
        params.detect_width as f64 / w as f64
    } else {
        1.0
    };
    let mut equalised = Mat::default();
    if scale < 1.0 {
        let small = resized(view, scale)?;
        imgproc::equalize_hist(&small, &mut equalised)?;
    } else {
        imgproc::equalize_hist(view, &mut equalised)?;
    }
    let min_scaled = ((min_side as f64 * scale).round() as i32).max(20);
    let max_scaled = (max_side as f64 * scale).round() as i32;
    let mut found = Vector::<Rect>::new();
    cascade.detect_multi_scale(
        &equalised,
        &mut found,
        params.scale_factor,
        params.min_neighbors,
        0,
        Size::new(min_scaled, min_scaled),
        Size::new(max_scaled.max(0), max_scaled.max(0)),
    )?;
    Ok(found
        .iter()
        .map(|r| {
            let x = (r.x as f64 / scale).round() as i32;
            let y = (r.y as f64 / scale).round() as i32;
            Face::from_box(BBox {
                x,
                y,
                w: ((r.width as f64 / scale).round() as i32).min(w - x),
                h: ((r.height as f64 / scale).round() as i32).min(h - y),
            })
        })
        .collect())
}

/// A frame or a region of one.
type View<'a> = opencv::boxed_ref::BoxedRef<'a, Mat>;

fn resized(view: &View, scale: f64) -> Result<Mat, opencv::Error> {
    let mut small = Mat::default();
    let size = Size::new(
        ((view.cols() as f64 * scale).round() as i32).max(1),
        ((view.rows() as f64 * scale).round() as i32).max(1),
    );
    imgproc::resize(view, &mut small, size, 0.0, 0.0, imgproc::INTER_AREA)?;
    Ok(small)
}

/// YuNet on `view`: scaled to [`yunet_input_width`] (up, for a small region), made 3-channel,
/// padded right and bottom to a multiple of 64 with both sides at least 64 (OpenCV 4.6 does
/// not pad, and some widths miss faces that fill the frame); boxes and landmarks mapped back.
fn yunet_faces(
    net: &mut opencv::core::Ptr<objdetect::FaceDetectorYN>,
    view: &View,
    min_side: i32,
) -> Result<Vec<Face>, FaceError> {
    let (w, h) = (view.cols(), view.rows());
    let target = yunet_input_width(w, min_side);
    let scale = (target as f64 / w as f64).max(64.0 / h.max(1) as f64);
    let small = resized(view, scale)?;
    let mut bgr = Mat::default();
    imgproc::cvt_color_def(&small, &mut bgr, imgproc::COLOR_GRAY2BGR)?;
    let pad = |side: i32| ((side.max(64) + 63) / 64) * 64;
    let (pw, ph) = (pad(bgr.cols()), pad(bgr.rows()));
    let mut input = Mat::default();
    opencv::core::copy_make_border(
        &bgr,
        &mut input,
        0,
        ph - bgr.rows(),
        0,
        pw - bgr.cols(),
        opencv::core::BORDER_CONSTANT,
        0.into(),
    )?;
    net.set_input_size(Size::new(pw, ph))?;
    let mut out = Mat::default();
    net.detect(&input, &mut out)?;
    let mut faces = Vec::with_capacity(out.rows() as usize);
    for r in 0..out.rows() {
        let v =
            |c: i32| -> Result<f32, opencv::Error> { Ok(*out.at_2d::<f32>(r, c)? / scale as f32) };
        let (x, y, bw, bh) = (v(0)?, v(1)?, v(2)?, v(3)?);
        let mut landmarks = [[0f32; 2]; 5];
        for (i, p) in landmarks.iter_mut().enumerate() {
            *p = [v(4 + 2 * i as i32)?, v(5 + 2 * i as i32)?];
        }
        let x0 = x.max(0.0).round() as i32;
        let y0 = y.max(0.0).round() as i32;
        let bbox = BBox {
            x: x0,
            y: y0,
            w: ((x + bw).min(w as f32).round() as i32 - x0).max(1),
            h: ((y + bh).min(h as f32).round() as i32 - y0).max(1),
        };
        faces.push(Face {
            bbox,
            landmarks: Some(landmarks),
            score: *out.at_2d::<f32>(r, 14)?,
        });
    }
    Ok(faces)
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

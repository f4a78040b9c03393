//! Frames from clips (GIF, MP4, MOV, ... through OpenCV's FFmpeg) and stills (JPEG, PNG, ...),
//! streamed one at a time so long videos never sit in memory.

use opencv::core::Mat;
use opencv::prelude::*;
use opencv::{imgcodecs, videoio};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("{path}: no such file")]
    Missing { path: PathBuf },
    #[error("{path}: the file is empty")]
    Empty { path: PathBuf },
    #[error("{path}: {message}")]
    Unreadable { path: PathBuf, message: String },
    #[error("{path}: OpenCV: {source}")]
    OpenCv {
        path: PathBuf,
        source: opencv::Error,
    },
}

/// What the first bytes say the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Gif,
    /// MP4 / MOV / M4V (ISO base media: `ftyp` at byte 4).
    IsoMedia,
    Matroska,
    Avi,
    Jpeg,
    Png,
    Bmp,
    Webp,
    Unknown,
}

impl Container {
    pub fn sniff(head: &[u8]) -> Container {
        if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
            Container::Gif
        } else if head.len() >= 8 && &head[4..8] == b"ftyp" {
            Container::IsoMedia
        } else if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
            Container::Matroska
        } else if head.starts_with(b"RIFF") && head.len() >= 12 && &head[8..12] == b"AVI " {
            Container::Avi
        } else if head.starts_with(b"RIFF") && head.len() >= 12 && &head[8..12] == b"WEBP" {
            Container::Webp
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Container::Jpeg
        } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Container::Png
        } else if head.starts_with(b"BM") {
            Container::Bmp
        } else {
            Container::Unknown
        }
    }

    pub fn is_still(self) -> bool {
        matches!(
            self,
            Container::Jpeg | Container::Png | Container::Bmp | Container::Webp
        )
    }
}

/// One decoded frame (BGR, as OpenCV gives it) with its index in the clip and time.
pub struct Frame {
    pub index: usize,
    pub time_s: f64,
    pub bgr: Mat,
}

/// Streams frames; `every` keeps one frame in N, `max_frames` stops after that many kept.
pub struct FrameSource {
    path: PathBuf,
    capture: Option<videoio::VideoCapture>,
    still: Option<Mat>,
    pub container: Container,
    pub fps: f64,
    /// As the container states it (0 when unknown or a still).
    pub frame_count_hint: usize,
    pub width: i32,
    pub height: i32,
    every: usize,
    max_frames: Option<usize>,
    next_index: usize,
    kept: usize,
    /// The decoder stopped on its own (not at `max_frames`).
    ended: bool,
    /// A GIF without its trailer byte: cut short.
    gif_cut: bool,
}

/// Stills with more pixels than this are refused before decoding (a 20000×20000 PNG of 1 MB
/// would need 1.2 GB decoded); 50 megapixels is above any camera's photo.
pub const MAX_STILL_PIXELS: u64 = 50_000_000;

impl FrameSource {
    pub fn open(
        path: &Path,
        every: usize,
        max_frames: Option<usize>,
    ) -> Result<FrameSource, VideoError> {
        let container = sniff_file(path)?;
        let path_str = path.to_str().ok_or_else(|| VideoError::Unreadable {
            path: path.into(),
            message: "the path is not UTF-8".into(),
        })?;
        let mut source = FrameSource {
            path: path.into(),
            capture: None,
            still: None,
            container,
            fps: 0.0,
            frame_count_hint: 0,
            width: 0,
            height: 0,
            every: every.max(1),
            max_frames,
            next_index: 0,
            kept: 0,
            ended: false,
            gif_cut: container == Container::Gif && !ends_with_gif_trailer(path),
        };
        if container.is_still() {
            source.open_still(path_str)?;
        } else {
            source.open_capture(path_str)?;
        }
        Ok(source)
    }

    fn cv_error(&self) -> impl Fn(opencv::Error) -> VideoError + '_ {
        |source| VideoError::OpenCv {
            path: self.path.clone(),
            source,
        }
    }

    /// A still, decoded whole (after its size is checked).
    fn open_still(&mut self, path_str: &str) -> Result<(), VideoError> {
        check_still_size(&self.path)?;
        let img = imgcodecs::imread(path_str, imgcodecs::IMREAD_COLOR).map_err(self.cv_error())?;
        if img.empty() {
            return Err(VideoError::Unreadable {
                path: self.path.clone(),
                message: format!(
                    "{:?} image that OpenCV cannot decode (truncated?)",
                    self.container
                ),
            });
        }
        self.width = img.cols();
        self.height = img.rows();
        self.frame_count_hint = 1;
        self.still = Some(img);
        Ok(())
    }

    /// A clip, opened for streaming, with its frame rate, frame count and size as stated.
    fn open_capture(&mut self, path_str: &str) -> Result<(), VideoError> {
        let cv = self.cv_error();
        let capture = videoio::VideoCapture::from_file(path_str, videoio::CAP_ANY).map_err(&cv)?;
        if !capture.is_opened().map_err(&cv)? {
            return Err(VideoError::Unreadable {
                path: self.path.clone(),
                message: "OpenCV (FFmpeg) cannot open it as a video or animated image (truncated or not a clip?)".into(),
            });
        }
        let mut fps = capture.get(videoio::CAP_PROP_FPS).map_err(&cv)?;
        if !(fps.is_finite() && fps > 0.0 && fps < 1000.0) {
            fps = 10.0;
        }
        let count = capture.get(videoio::CAP_PROP_FRAME_COUNT).map_err(&cv)?;
        let width = capture.get(videoio::CAP_PROP_FRAME_WIDTH).map_err(&cv)? as i32;
        let height = capture.get(videoio::CAP_PROP_FRAME_HEIGHT).map_err(&cv)? as i32;
        drop(cv);
        self.fps = fps;
        self.frame_count_hint = if count.is_finite() && count > 0.0 {
            count as usize
        } else {
            0
        };
        self.width = width;
        self.height = height;
        self.capture = Some(capture);
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the user should know once the clip is read: it was cut short (a GIF without its
    /// trailer, or fewer frames than the header announced). The frames read are still used.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        // Containers estimate their frame count (duration × rate): a few frames short is normal,
        // a tenth short is not.
        let short = self.ended
            && self.frame_count_hint > 0
            && (self.next_index as f64) < 0.9 * self.frame_count_hint as f64;
        if short {
            warnings.push(format!(
                "{}: the clip ended after {} of the {} frames its header announces (truncated or damaged?); the result covers the frames read",
                self.path.display(),
                self.next_index,
                self.frame_count_hint
            ));
        } else if self.gif_cut && self.ended {
            warnings.push(format!(
                "{}: the GIF has no end marker: the file is cut short (truncated download?); {} frames were read and the result covers only those",
                self.path.display(),
                self.next_index
            ));
        }
        warnings
    }

    /// The next kept frame, `None` at the end.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, VideoError> {
        if self.max_frames.is_some_and(|m| self.kept >= m) {
            return Ok(None);
        }
        if let Some(still) = self.still.take() {
            self.kept += 1;
            return Ok(Some(Frame {
                index: 0,
                time_s: 0.0,
                bgr: still,
            }));
        }
        let Some(capture) = self.capture.as_mut() else {
            return Ok(None);
        };
        let path = self.path.clone();
        let cv = |source| VideoError::OpenCv {
            path: path.clone(),
            source,
        };
        loop {
            let index = self.next_index;
            let keep = index % self.every == 0;
            let got = if keep {
                let mut bgr = Mat::default();
                let ok = capture.read(&mut bgr).map_err(cv)?;
                (ok && !bgr.empty()).then_some(bgr)
            } else {
                // Skipped frames are grabbed, not decoded into an image.
                capture.grab().map_err(cv)?.then(Mat::default)
            };
            let Some(bgr) = got else {
                self.capture = None;
                self.ended = true;
                return Ok(None);
            };
            self.next_index += 1;
            if keep {
                self.kept += 1;
                return Ok(Some(Frame {
                    index,
                    time_s: index as f64 / self.fps,
                    bgr,
                }));
            }
        }
    }
}

/// What the file is, by its first bytes; refuses a missing, empty or text file.
fn sniff_file(path: &Path) -> Result<Container, VideoError> {
    let meta = std::fs::metadata(path).map_err(|_| VideoError::Missing { path: path.into() })?;
    if !meta.is_file() {
        return Err(VideoError::Unreadable {
            path: path.into(),
            message: "not a file".into(),
        });
    }
    if meta.len() == 0 {
        return Err(VideoError::Empty { path: path.into() });
    }
    let mut head = [0u8; 16];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| VideoError::Unreadable {
            path: path.into(),
            message: e.to_string(),
        })?;
        f.read(&mut head).unwrap_or(0)
    };
    let container = Container::sniff(&head[..n]);
    let text_like = head[..n]
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if container == Container::Unknown && text_like {
        return Err(VideoError::Unreadable {
            path: path.into(),
            message: "this is text, not an image or a video".into(),
        });
    }
    Ok(container)
}

/// A complete GIF ends with the trailer byte 0x3B.
fn ends_with_gif_trailer(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let mut last = [0u8; 1];
    std::fs::File::open(path)
        .and_then(|mut f| {
            f.seek(SeekFrom::End(-1))?;
            f.read_exact(&mut last)
        })
        .map(|()| last[0] == 0x3B)
        .unwrap_or(false)
}

/// Refuses a still whose header announces more than [`MAX_STILL_PIXELS`], before decoding it.
/// Formats whose header the `image` crate cannot read are left to OpenCV (whose own limit,
/// `OPENCV_IO_MAX_IMAGE_PIXELS`, is set to the same figure at start-up).
fn check_still_size(path: &Path) -> Result<(), VideoError> {
    let Ok((w, h)) = image::image_dimensions(path) else {
        return Ok(());
    };
    let pixels = w as u64 * h as u64;
    if pixels > MAX_STILL_PIXELS {
        return Err(VideoError::Unreadable {
            path: path.into(),
            message: format!(
                "{w}×{h} pixels ({:.0} megapixels) is over the limit of {} megapixels for a still; downscale it first",
                pixels as f64 / 1e6,
                MAX_STILL_PIXELS / 1_000_000
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Container;

    #[test]
    fn containers_are_told_by_their_first_bytes() {
        assert_eq!(Container::sniff(b"GIF89a\x01\x00"), Container::Gif);
        assert_eq!(
            Container::sniff(b"\x00\x00\x00\x20ftypisom"),
            Container::IsoMedia
        );
        assert_eq!(
            Container::sniff(b"\x00\x00\x00\x14ftypqt  "),
            Container::IsoMedia
        );
        assert_eq!(Container::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Container::Jpeg);
        assert_eq!(Container::sniff(b"hello, I am text"), Container::Unknown);
    }
}

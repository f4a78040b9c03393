//! Frames and faces: `video` streams frames from clips and stills (OpenCV), `faces` finds faces
//! (Haar cascade), `tracker` gives them stable ids across frames and filters false faces.

pub mod faces;
pub mod framing;
pub mod tracker;
pub mod video;

/// An axis-aligned box in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BBox {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl BBox {
    pub fn area(&self) -> f64 {
        (self.w.max(0) as f64) * (self.h.max(0) as f64)
    }

    /// Intersection over union.
    pub fn iou(&self, other: &BBox) -> f64 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.w).min(other.x + other.w);
        let y1 = (self.y + self.h).min(other.y + other.h);
        let inter = ((x1 - x0).max(0) as f64) * ((y1 - y0).max(0) as f64);
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BBox;

    #[test]
    fn iou_by_hand() {
        let a = BBox {
            x: 0,
            y: 0,
            w: 10,
            h: 10,
        };
        let b = BBox {
            x: 5,
            y: 0,
            w: 10,
            h: 10,
        };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-12);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(
            a.iou(&BBox {
                x: 20,
                y: 20,
                w: 5,
                h: 5
            }),
            0.0
        );
    }
}

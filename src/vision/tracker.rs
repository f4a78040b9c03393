//! Stable face ids across frames by IoU matching, and the rule that drops false faces.
//!
//! Each detection joins the live track whose last box overlaps it most (IoU ≥ 0.3, greedy,
//! best pairs first); a track stays live for `max_gap` sampled frames without a match. The
//! false-face rule, applied when the clip ends: a track is kept when it was seen in at least
//! `min_frames` sampled frames (or in every sampled frame of a shorter clip) and its median
//! box side is at least `min_relative_size` of the largest kept track's. Haar cascades fire on
//! hands and textures now and then, but rarely in the same place for several frames, and rarely
//! at a face's size.

use super::BBox;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerParams {
    pub iou_threshold: f64,
    pub max_gap: usize,
    pub min_frames: usize,
    pub min_relative_size: f64,
}

impl Default for TrackerParams {
    fn default() -> Self {
        Self {
            iou_threshold: 0.3,
            max_gap: 12,
            min_frames: 3,
            min_relative_size: 0.5,
        }
    }
}

#[derive(Debug, Default)]
pub struct Tracker {
    params: TrackerParams,
    /// (id, last box, last sampled-frame index).
    live: Vec<(usize, BBox, usize)>,
    next_id: usize,
    /// Per track: the sampled-frame indices and box sides it was seen with.
    seen: Vec<Vec<(usize, i32)>>,
}

impl Tracker {
    pub fn new(params: TrackerParams) -> Self {
        Self {
            params,
            ..Default::default()
        }
    }

    /// Assigns a track id to each detection of sampled frame `frame` (in order of `boxes`).
    pub fn update(&mut self, frame: usize, boxes: &[BBox]) -> Vec<usize> {
        self.live
            .retain(|&(_, _, last)| frame.saturating_sub(last) <= self.params.max_gap);
        let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
        for (d, b) in boxes.iter().enumerate() {
            for (t, (_, last_box, _)) in self.live.iter().enumerate() {
                let iou = b.iou(last_box);
                if iou >= self.params.iou_threshold {
                    pairs.push((iou, d, t));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut ids = vec![usize::MAX; boxes.len()];
        let mut taken = vec![false; self.live.len()];
        for (_, d, t) in pairs {
            if ids[d] == usize::MAX && !taken[t] {
                ids[d] = self.live[t].0;
                taken[t] = true;
            }
        }
        for (d, b) in boxes.iter().enumerate() {
            if ids[d] == usize::MAX {
                ids[d] = self.next_id;
                self.next_id += 1;
                self.seen.push(Vec::new());
                self.live.push((ids[d], *b, frame));
            } else if let Some(entry) = self.live.iter_mut().find(|e| e.0 == ids[d]) {
                entry.1 = *b;
                entry.2 = frame;
            }
            self.seen[ids[d]].push((frame, b.w.max(b.h)));
        }
        ids
    }

    /// Track ids that pass the false-face rule, given how many frames were sampled.
    pub fn kept_tracks(&self, sampled_frames: usize) -> Vec<usize> {
        let need = self.params.min_frames.min(sampled_frames.max(1));
        let median = |v: &Vec<(usize, i32)>| {
            let mut sides: Vec<i32> = v.iter().map(|&(_, s)| s).collect();
            sides.sort_unstable();
            sides.get(sides.len() / 2).copied().unwrap_or(0)
        };
        let persistent: Vec<usize> = (0..self.seen.len())
            .filter(|&t| self.seen[t].len() >= need)
            .collect();
        let largest = persistent
            .iter()
            .map(|&t| median(&self.seen[t]))
            .max()
            .unwrap_or(0);
        persistent
            .into_iter()
            .filter(|&t| {
                median(&self.seen[t]) as f64 >= self.params.min_relative_size * largest as f64
            })
            .collect()
    }

    pub fn track_count(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: i32, y: i32, s: i32) -> BBox {
        BBox { x, y, w: s, h: s }
    }

    #[test]
    fn a_moving_face_keeps_its_id_and_a_flickering_hand_is_dropped() {
        let mut t = Tracker::new(TrackerParams::default());
        let mut face_ids = vec![];
        for f in 0..10 {
            let mut boxes = vec![b(100 + 3 * f as i32, 50, 80)];
            if f == 4 {
                boxes.push(b(10, 200, 40)); // a hand, once
            }
            let ids = t.update(f, &boxes);
            face_ids.push(ids[0]);
        }
        assert!(face_ids.iter().all(|&i| i == face_ids[0]));
        assert_eq!(t.track_count(), 2);
        assert_eq!(t.kept_tracks(10), vec![face_ids[0]]);
    }

    #[test]
    fn a_face_that_leaves_past_the_gap_comes_back_as_a_new_track() {
        let mut t = Tracker::new(TrackerParams {
            max_gap: 2,
            ..Default::default()
        });
        let first = t.update(0, &[b(0, 0, 50)])[0];
        let again = t.update(5, &[b(0, 0, 50)])[0];
        assert_ne!(first, again);
        let within = t.update(6, &[b(2, 0, 50)])[0];
        assert_eq!(within, again);
    }

    #[test]
    fn a_still_image_keeps_every_face_of_face_size() {
        let mut t = Tracker::new(TrackerParams::default());
        t.update(0, &[b(0, 0, 100), b(200, 0, 90), b(400, 0, 20)]);
        assert_eq!(t.kept_tracks(1), vec![0, 1]);
    }
}

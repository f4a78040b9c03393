//! `cargo bench --bench serve_latency`: what `workbench serve` costs per live frame.
//!
//! 1. Server-side latency per frame (JPEG decode + detect + align + classify, the exact
//!    function the WebSocket handler runs) on 320×240 frames cut from the committed MP4
//!    (centre 4:3 crop, downscaled, JPEG quality 80 as the page sends): p50, p90, p99.
//! 2. The sustained frame rate of one client over a real WebSocket on loopback, sending the
//!    next frame as soon as the answer arrives (the page caps itself at 10 frames a second).
//!
//! Not a test: nothing here asserts a speed. Run it on an idle machine.

use opencv::core::{Mat, Rect, Size, Vector};
use opencv::prelude::*;
use std::path::Path;
use std::time::Instant;
use tungstenite::Message;
use workbench::serve::{self, live, ServeOptions};

fn frames_320x240() -> Vec<Vec<u8>> {
    let clip =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/clips/WolfgangLanger_Pexels.mp4");
    let mut source = workbench::vision::video::FrameSource::open(&clip, 1, Some(200)).unwrap();
    let mut out = Vec::new();
    let params = Vector::<i32>::from_slice(&[opencv::imgcodecs::IMWRITE_JPEG_QUALITY, 80]);
    while let Some(frame) = source.next_frame().unwrap() {
        let (w, h) = (frame.bgr.cols(), frame.bgr.rows());
        let cw = (h * 4 / 3).min(w);
        let crop = Mat::roi(&frame.bgr, Rect::new((w - cw) / 2, 0, cw, h)).unwrap();
        let mut small = Mat::default();
        opencv::imgproc::resize(
            &crop,
            &mut small,
            Size::new(320, 240),
            0.0,
            0.0,
            opencv::imgproc::INTER_AREA,
        )
        .unwrap();
        let mut jpeg = Vector::<u8>::new();
        opencv::imgcodecs::imencode(".jpg", &small, &mut jpeg, &params).unwrap();
        out.push(jpeg.to_vec());
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn options() -> ServeOptions {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ServeOptions {
        host: "127.0.0.1".parse().unwrap(),
        port: 0,
        model: root.join("models/fer-default.json"),
        song_model: root.join("models/song-clusters.json"),
        sources: workbench::infer::Sources {
            model: workbench::defaults::Source::Flag,
            song_model: workbench::defaults::Source::Flag,
            detector: workbench::defaults::Source::Flag,
        },
        detector: workbench::vision::faces::DetectorParams {
            model: root.join("models/face_detection_yunet_2022mar.onnx"),
            ..Default::default()
        },
        backend: workbench::backend::Backend::Cpu,
        reports_dir: std::env::temp_dir().join("workbench-bench-serve"),
        upload_limit: 100 << 20,
        window: 20,
        top: 10,
        library: std::env::temp_dir().join("workbench-bench-serve/liked.csv"),
    }
}

fn main() {
    let frames = frames_320x240();
    let state = serve::load(options()).unwrap();
    // Warm-up: the first frames pay for lazily built kernels.
    for jpeg in frames.iter().take(10) {
        live::read_jpeg(&state, jpeg).unwrap();
    }
    let mut ms: Vec<f64> = Vec::new();
    let mut faces = 0;
    for jpeg in &frames {
        let t = Instant::now();
        let (_, _, read) = live::read_jpeg(&state, jpeg).unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        faces += read.len();
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "server-side latency per 320x240 frame ({} frames, {faces} faces): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.9),
        percentile(&ms, 0.99),
        ms[ms.len() - 1]
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let server_state = state.clone();
    runtime.spawn(async move {
        serve::serve(server_state, move |addr| tx.send(addr).unwrap())
            .await
            .unwrap();
    });
    let addr = rx.recv().unwrap();
    let (mut socket, _) = tungstenite::connect(format!("ws://{addr}/ws/live")).unwrap();
    let started = Instant::now();
    let mut answered = 0;
    for jpeg in frames.iter().cycle().take(400) {
        socket.send(Message::Binary(jpeg.clone().into())).unwrap();
        loop {
            if let Message::Text(t) = socket.read().unwrap() {
                if t.as_str().contains("\"type\":\"frame\"") {
                    break;
                }
            }
        }
        answered += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "one client over a loopback WebSocket: {answered} frames in {seconds:.2} s = {:.1} frames/s sustained",
        answered as f64 / seconds
    );
}

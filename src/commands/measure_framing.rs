use crate::cli::MeasureFramingArgs;
use anyhow::Result;
use workbench::fer::eval_fer::read_with_spinner;
use workbench::vision::{faces::DetectorParams, framing};

pub fn run(args: MeasureFramingArgs) -> Result<()> {
    let fer = read_with_spinner(&args.data, false)?;
    let m = framing::measure(
        fer.split(args.split),
        args.limit,
        &DetectorParams::default(),
    )?;
    println!(
        "YuNet found a face in {} of {} {} faces (upscaled {}x).\nFraming (medians): side {:.3} box widths, centre offset dx {:+.3} box widths, dy {:+.3} box heights; eye line {:+.1} degrees",
        m.found,
        m.faces,
        args.split,
        framing::UPSCALE,
        m.framing.side,
        m.framing.dx,
        m.framing.dy,
        m.eye_angle_deg
    );
    Ok(())
}

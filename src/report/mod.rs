//! Charts and pages shared by every command's report.

pub mod html;
pub mod plots;

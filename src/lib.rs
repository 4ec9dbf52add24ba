//! pidone (skeleton)
pub mod sys;
/// Runs pidone.
pub fn run(_args: Vec<std::ffi::OsString>) -> i32 { 1 }

//! `tune`'s engines: each runs the selected tests once per setting and hands back
//! the wall and CPU time, in-process or through `cargo nextest run`.

pub mod in_process;
pub mod nextest;

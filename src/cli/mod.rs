//! The operator's subcommands beyond `serve`; their output is the CLI's stdout.

pub mod bench;
pub mod calendar;

//! One module per subcommand.

pub mod data;
pub mod similarity;
pub mod train;

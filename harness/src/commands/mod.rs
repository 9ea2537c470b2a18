//! One module per subcommand.

pub mod data;
pub mod layers;
pub mod similarity;
pub mod train;

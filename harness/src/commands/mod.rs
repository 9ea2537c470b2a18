//! One module per subcommand.

pub mod data;
pub mod extract;
pub mod layers;
pub mod results;
pub mod score;
pub mod similarity;
pub mod train;
pub mod train_vectorized;

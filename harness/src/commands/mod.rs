//! One module per subcommand.

pub mod similarity;

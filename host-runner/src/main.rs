//! The `svcintent` command.
fn main() {}

//! Semantic checks over the extracted intent (references, addresses, modes, drains).

pub mod strings;

use crate::diagnostic::Diagnostics;
use crate::model::Intent;
use crate::resolve::Resolved;

/// Runs every semantic check.
pub fn validate(_intent: &Intent, _resolved: &Resolved, _diags: &mut Diagnostics) {}

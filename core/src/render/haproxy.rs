//! haproxy target (to be written).

use minijinja::Environment;

use super::{Context, RenderError, RenderedFile};
use crate::plan::HostPlan;

/// Registers this target's templates and escaping filters.
pub fn register(_env: &mut Environment<'static>) {}

/// Files this host gets from this target.
pub fn render(_cx: &Context<'_>, _host: &HostPlan) -> Result<Vec<RenderedFile>, RenderError> {
    Ok(Vec::new())
}

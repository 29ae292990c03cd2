//! Parent death where there is no parent-death signal: nothing to arm.
//!
//! On Windows the job object the parent puts the child in ends it with the
//! parent; on other Unixes the child exits when its channel reaches EOF
//! (its grandchildren are then left to the parent's cleanup, which a killed
//! parent cannot do).

use super::Parent;

/// Always [`Parent::Alive`]: a dead parent shows up as channel EOF.
pub(crate) fn watch_parent() -> Parent {
    Parent::Alive
}

/// Always `false`: whether a closed channel means a dead parent cannot be
/// told here.
pub(crate) fn parent_dying() -> bool {
    false
}

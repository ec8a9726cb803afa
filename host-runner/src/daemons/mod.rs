//! Real-daemon checks of a rendered tree (to be written).

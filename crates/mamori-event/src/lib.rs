//! mamori-event

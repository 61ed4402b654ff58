//! mamori-ingest

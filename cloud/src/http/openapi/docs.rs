//! The browsable reference at `/api/docs/`.

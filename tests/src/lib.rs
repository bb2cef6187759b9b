//! Cross-crate tests (in `tests/`): what training writes is what every reader sees.

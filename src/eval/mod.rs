//! Measuring masks: evaluation sets on disk and the quality metrics. Pure CPU, shared by `vbg eval` and tests.

pub mod dataset;
pub mod metrics;

//! The canonical formatter for mcpo and HCL source.

//! The development daemon: file events -> debounce -> the generate/apply pipeline.

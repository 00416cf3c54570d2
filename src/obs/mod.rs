//! Everything that talks to OBS. The rest of the crate knows nothing of it.

mod chosen_source;
mod copy_fence;
mod data;
mod filter;
mod graphics;
mod guard;
mod locale;
mod logger;
mod module;
mod pass_times;
mod properties;
mod remote;
mod render;
mod signals;
mod source;
mod source_ref;
mod sys;
mod websocket;

# The plugin is a Rust cdylib: cargo builds it, CMake only drives cargo and installs the result.
#
# Target folder: by default the repository's own `target/`, the folder `cargo build --release` and
# scripts/setup use. A clean release build of this crate takes minutes on a small machine; sharing the folder
# keeps every build incremental, and it cannot clash with the CMake build folder (cargo writes only under
# target/, CMake only under its build folder; cargo's lock on target/ serialises concurrent builds). The
# binary is the same whichever way it is built: build.rs gives it its RUNPATH in every build. Set
# VBG_CARGO_TARGET_DIR (for example to ${CMAKE_BINARY_DIR}/cargo) for a build that shares nothing.

find_program(CARGO_EXECUTABLE cargo HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin"
  DOC "cargo, the Rust build tool (install Rust with rustup)")
if(NOT CARGO_EXECUTABLE)
  message(FATAL_ERROR "cargo not found: install Rust (https://rustup.rs) or pass -DCARGO_EXECUTABLE=/path/to/cargo")
endif()

set(VBG_CARGO_TARGET_DIR "${PROJECT_SOURCE_DIR}/target" CACHE PATH
  "cargo --target-dir for the plugin build (default: the repository's target/, shared with cargo build)")

# Cargo names the library after the crate; OBS wants it named after the plugin (done at install time).
set(VBG_PLUGIN_BINARY "${VBG_CARGO_TARGET_DIR}/release/libobs_virtual_background.so")

# Always runs: cargo itself knows whether anything changed (a no-op build takes about a second).
# The working directory matters: .cargo/config.toml there points bindgen at the installed libobs headers.
add_custom_target(plugin ALL
  COMMAND "${CARGO_EXECUTABLE}" build --release --lib --target-dir "${VBG_CARGO_TARGET_DIR}"
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
  BYPRODUCTS "${VBG_PLUGIN_BINARY}"
  USES_TERMINAL
  COMMENT "cargo build --release --lib (target dir ${VBG_CARGO_TARGET_DIR})")

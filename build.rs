//! Gives the plugin a RUNPATH so the dynamic linker finds its private ONNX Runtime library relative to the
//! plugin file itself: `$ORIGIN` (per-user install: the library sits beside the plugin in `bin/64bit/`) and
//! `$ORIGIN/obs-virtual-background` (system-wide install: the plugin folder is shared with every other
//! plugin, so the library gets a sub-folder of its own). `src/runtime.rs` loads the library by its bare file
//! name; `dlopen` is called from code inside the plugin, so glibc searches this RUNPATH. No
//! LD_LIBRARY_PATH, no absolute path.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        // Passed to the linker as one argument (no shell), so `$ORIGIN` needs no quoting.
        println!("cargo:rustc-cdylib-link-arg=-Wl,--enable-new-dtags");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-rpath,$ORIGIN:$ORIGIN/obs-virtual-background");
    }
}

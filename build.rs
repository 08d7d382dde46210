// A plain cdylib build has no SONAME; C consumers link against libstepca.so.0 so that an
// ABI-incompatible release can change the name. Bump with the major ABI version.
fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libstepca.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

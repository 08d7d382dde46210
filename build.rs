// A plain cdylib build has no SONAME. Ours follows the README's "Releases and ABI" policy,
// as the Makefile's SOVERSION does: before 1.0 a minor release may break the ABI, so the
// SONAME carries major and minor (libstepca.so.0.1); from 1.0 on, the major alone
// (libstepca.so.1). Patch releases keep the SONAME.
fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        let minor = env!("CARGO_PKG_VERSION_MINOR");
        let soversion = if major == "0" {
            format!("0.{minor}")
        } else {
            major.to_string()
        };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libstepca.so.{soversion}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

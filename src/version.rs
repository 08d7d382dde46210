//! Version numbers. The constants are literals so that cbindgen can write them into the
//! header as macros; a test checks them against Cargo.toml.

/// Major version.
pub const STEPCA_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const STEPCA_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const STEPCA_VERSION_PATCH: u32 = 0;
/// `MAJOR * 1000000 + MINOR * 1000 + PATCH`.
pub const STEPCA_VERSION_NUMBER: u32 = 1000;

/// The version string, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_cargo() {
        assert_eq!(
            STEPCA_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            STEPCA_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            STEPCA_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        assert_eq!(
            STEPCA_VERSION_NUMBER,
            STEPCA_VERSION_MAJOR * 1_000_000 + STEPCA_VERSION_MINOR * 1000 + STEPCA_VERSION_PATCH
        );
    }
}

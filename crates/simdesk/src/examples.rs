//! The example policies shipped in the repository's `policies/` folder, built into the binary so
//! that `simdesk demo` works from anywhere.

use std::path::Path;

macro_rules! example_files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../policies/", $path)))),*]
    };
}

/// (relative path, content) of every example policy file.
pub const FILES: &[(&str, &str)] = example_files![
    "README.md",
    "EX-SAKURA/carrier.toml",
    "EX-SAKURA/plans/JP10-DV.toml",
    "EX-SAKURA/plans/JP15-D.toml",
    "EX-SAKURA/plans/ESIM-15.toml",
    "EX-FUJI/carrier.toml",
    "EX-FUJI/plans/JP10-DV.toml",
    "EX-FUJI/plans/ESIM-7.toml",
    "EX-KOI/carrier.toml",
    "EX-KOI/plans/JP15-D.toml",
    "EX-KOI/plans/JP31-DV.toml",
];

/// Writes the example policies into `dir`.
pub fn write_to(dir: &Path) -> std::io::Result<()> {
    for (path, content) in FILES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, content)?;
    }
    Ok(())
}

//! Generates one `#[test]` per scenario file in the repository's `scenarios/` directory, named
//! after the file, for `tests/scenarios.rs`.

use std::fmt::Write as _;
use std::path::Path;

/// The git commit the build comes from (`unknown` outside a git checkout), for
/// `joinsim --version` and the `[origin]` of fuzz findings.
fn commit(repo: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(repo)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|s| s.trim().to_string())
    };
    // Rebuild when HEAD moves: HEAD itself (a worktree has its own) and the refs it may point to.
    for (dir, watched) in [
        ("--git-dir", "HEAD"),
        ("--git-common-dir", "refs/heads"),
        ("--git-common-dir", "packed-refs"),
    ] {
        if let Some(dir) = git(&["rev-parse", dir]) {
            let path = repo.join(dir).join(watched);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    git(&["rev-parse", "HEAD"])
        .filter(|s| s.len() == 40)
        .unwrap_or_else(|| "unknown".into())
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!(
        "cargo:rustc-env=JOINSIM_COMMIT={}",
        commit(&Path::new(&manifest).join(".."))
    );
    let dir = Path::new(&manifest).join("..").join("scenarios");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut code = String::new();
    for file in files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("scenario");
        let name: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let path = file.canonicalize().unwrap_or(file.clone());
        let _ = writeln!(
            code,
            "#[test]\nfn {name}() {{\n    run_scenario_file({:?});\n}}\n",
            path.display().to_string()
        );
    }
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("scenario_tests.rs");
    std::fs::write(out, code).expect("write the generated scenario tests");
}

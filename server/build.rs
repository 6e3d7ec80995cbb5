//! Facts baked into the binary at build time: the commit it was built from (for
//! `switchboard --version`), and, with the `embed-site` feature (release builds), the built
//! client itself, so the release is one file with nothing to copy beside it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    commit();
    site();
}

/// `SWITCHBOARD_COMMIT` when the builder sets it (a build from a source archive), else what
/// git says HEAD is, else "unknown".
fn commit() {
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_COMMIT");
    let commit = std::env::var("SWITCHBOARD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SWITCHBOARD_COMMIT={}", commit.trim());
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn git_commit() -> Option<String> {
    let head = git(&["rev-parse", "--short=12", "HEAD"])?;
    // Look again when HEAD moves (a commit, a checkout): git's own files say where it points.
    // Only files that exist: cargo takes a missing one as changed, and ran this script (and
    // recompiled the server) at every build in a checkout with no packed-refs.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let dir = PathBuf::from(dir);
        let mut watched = vec![dir.join("HEAD"), dir.join("packed-refs")];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(dir.join(branch));
        }
        for file in watched.iter().filter(|f| f.is_file()) {
            println!("cargo:rerun-if-changed={}", file.display());
        }
    }
    Some(head)
}

/// Writes `$OUT_DIR/site.rs`: the table of embedded client files (empty without the
/// `embed-site` feature). Each file comes with its `.br` and `.gz` copies (the client build
/// makes them) and an ETag from its bytes.
fn site() {
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_EMBED_SITE");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("site.rs");
    if std::env::var_os("CARGO_FEATURE_EMBED_SITE").is_none() {
        std::fs::write(&out, "pub static FILES: &[File] = &[];\n").expect("write site.rs");
        return;
    }
    let root = std::env::var("SWITCHBOARD_EMBED_SITE").unwrap_or_else(|_| {
        panic!(
            "the embed-site feature needs SWITCHBOARD_EMBED_SITE: the folder of the built client \
             (scripts/run --release sets it)"
        )
    });
    let root = PathBuf::from(root);
    assert!(
        root.join("hash.txt").is_file(),
        "SWITCHBOARD_EMBED_SITE={} holds no built client (no hash.txt)",
        root.display()
    );
    // A directory here makes cargo look at everything under it.
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut table = String::from("pub static FILES: &[File] = &[\n");
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".br") || name.ends_with(".gz") {
            continue; // attached to the file they compress
        }
        let url = format!(
            "/{}",
            path.strip_prefix(&root)
                .expect("under root")
                .to_str()
                .expect("client file names are UTF-8")
                .replace('\\', "/")
        );
        let bytes = std::fs::read(&path).expect("read a client file");
        let variant = |ext: &str| {
            let p = PathBuf::from(format!("{}.{ext}", path.display()));
            if p.is_file() {
                format!("Some(include_bytes!({:?}))", p.display().to_string())
            } else {
                "None".to_string()
            }
        };
        writeln!(
            table,
            "    File {{ path: {url:?}, body: include_bytes!({:?}), br: {}, gzip: {}, etag: \"\\\"{:016x}\\\"\" }},",
            path.display().to_string(),
            variant("br"),
            variant("gz"),
            fnv1a(&bytes)
        )
        .expect("write to a string");
    }
    table.push_str("];\n");
    std::fs::write(&out, table).expect("write site.rs");
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the client folder") {
        let path = entry.expect("read the client folder").path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// A 64-bit FNV-1a hash: enough to tell two versions of a file apart in an ETag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

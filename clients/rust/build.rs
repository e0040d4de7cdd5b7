//! Client-only code generation from the platform's `proto/` (no system `protoc`), and the
//! list of RPCs that take an officer token, read from the authorization matrix the server
//! itself embeds (`docs/authorization.md`), so client and server cannot disagree.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../../proto");
    let mut protos: Vec<_> = std::fs::read_dir(root.join("fenghuo/v1"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "proto"))
        .collect();
    protos.sort();
    let fds = protox::compile(&protos, [&root])?;
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed={}", root.display());

    let matrix_path = manifest.join("../../docs/authorization.md");
    let matrix = std::fs::read_to_string(&matrix_path)?;
    let mut paths = Vec::new();
    for line in matrix.lines().map(str::trim) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [rpc, token, ..] = cells.as_slice() else {
            continue;
        };
        let Some((service, method)) = rpc.trim_matches('`').split_once('.') else {
            continue;
        };
        if !rpc.starts_with('`') || service.contains(' ') {
            continue;
        }
        match *token {
            "yes" => paths.push(format!("/fenghuo.v1.{service}/{method}")),
            "no" => {}
            other => return Err(format!("{rpc}: officer token cell {other:?}").into()),
        }
    }
    if paths.is_empty() {
        return Err("docs/authorization.md lists no RPC that needs an officer token".into());
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("officer_token_rpcs.rs"), format!("&{paths:?}"))?;
    println!("cargo:rerun-if-changed={}", matrix_path.display());
    Ok(())
}

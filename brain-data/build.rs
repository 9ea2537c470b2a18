//! Embeds every `catalog/<id>.sums` file, so that a new dataset's sums are picked up without
//! editing code: writes `$OUT_DIR/sums.rs` with one `(id, include_str!(…))` per file.

use std::path::Path;

fn main() {
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    println!("cargo:rerun-if-changed={}", catalog.display());
    let mut ids: Vec<String> = std::fs::read_dir(&catalog)
        .expect("brain-data/catalog is readable")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".sums").map(str::to_string)
        })
        .collect();
    ids.sort();
    let mut code = String::from(
        "/// Every `catalog/<id>.sums`, by dataset id.\nconst SUMS: &[(&str, &str)] = &[\n",
    );
    for id in &ids {
        let path = catalog.join(format!("{id}.sums"));
        println!("cargo:rerun-if-changed={}", path.display());
        code.push_str(&format!(
            "    ({id:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("sums.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}

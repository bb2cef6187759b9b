//! Every kernel file in `shaders/` parses and validates with naga, and every file is a kernel.

use ganscope_gpu::kernels::Kernel;

#[test]
fn every_shader_validates_with_naga() {
    for k in Kernel::ALL {
        let module = naga::front::wgsl::parse_str(k.source())
            .unwrap_or_else(|e| panic!("{}: {}", k.file(), e.emit_to_string(k.source())));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {e:?}", k.file()));
        let ep = module.entry_points.iter().find(|e| e.name == "main");
        assert!(ep.is_some(), "{} has no `main` entry point", k.file());
    }
}

#[test]
fn every_file_in_shaders_is_a_kernel() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shaders");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("shaders/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut known: Vec<String> = Kernel::ALL.iter().map(|k| k.file().to_string()).collect();
    known.sort();
    assert_eq!(files, known);
}

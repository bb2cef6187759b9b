//! Every kernel's WGSL (its shared parts and its own file, concatenated) parses and validates
//! with naga; every file in `shaders/` is part of a kernel; each kernel's bindings are the
//! layout the recorder binds (group 0: 0 the uniform parameters, 1 `aux` read-only, 2.. the
//! inputs read-only, the last the output read-write, [`Kernel::inputs`] inputs); and each
//! shader's parameter block is as large as its Rust struct.

use std::collections::BTreeMap;
use std::path::Path;

use ganscope_gpu::kernels::Kernel;
use naga::{AddressSpace, StorageAccess};

fn module(k: Kernel) -> naga::Module {
    naga::front::wgsl::parse_str(k.source())
        .unwrap_or_else(|e| panic!("{}: {}", k.file(), e.emit_to_string(k.source())))
}

#[test]
fn every_shader_validates_with_naga() {
    for k in Kernel::ALL {
        let module = module(k);
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

fn files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("shaders/") {
        let e = e.expect("entry");
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        if e.file_type().expect("file type").is_dir() {
            files(&e.path(), &format!("{name}/"), out);
        } else {
            out.push(name);
        }
    }
}

#[test]
fn every_file_in_shaders_is_part_of_a_kernel() {
    let mut found = Vec::new();
    files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders"),
        "",
        &mut found,
    );
    found.sort();
    let mut used: Vec<String> = Kernel::ALL
        .iter()
        .flat_map(|k| k.parts().iter().map(|p| p.to_string()))
        .collect();
    used.sort();
    used.dedup();
    assert_eq!(found, used);
    for k in Kernel::ALL {
        let parts = k.parts();
        assert_eq!(
            parts.last(),
            Some(&k.file()),
            "{k:?}: its own file comes last"
        );
        assert!(
            parts[..parts.len() - 1]
                .iter()
                .all(|p| p.starts_with("common/")),
            "{k:?}: the shared parts are in common/"
        );
        let own = Kernel::ALL.iter().filter(|o| o.file() == k.file()).count();
        assert_eq!(own, 1, "{} is the file of one kernel", k.file());
    }
}

#[test]
fn bindings_are_what_the_recorder_binds() {
    let read = AddressSpace::Storage {
        access: StorageAccess::LOAD,
    };
    let read_write = AddressSpace::Storage {
        access: StorageAccess::LOAD | StorageAccess::STORE,
    };
    for k in Kernel::ALL {
        let m = module(k);
        let mut found = BTreeMap::new();
        for (_, v) in m.global_variables.iter() {
            if let Some(b) = &v.binding {
                assert_eq!(
                    b.group,
                    0,
                    "{}: {:?} in group {}",
                    k.file(),
                    v.name,
                    b.group
                );
                let dup = found.insert(b.binding, v.space);
                assert!(dup.is_none(), "{}: binding {} twice", k.file(), b.binding);
            }
        }
        let n = k.inputs() as u32;
        let mut want = BTreeMap::from([(0, AddressSpace::Uniform)]);
        if found.contains_key(&1) {
            // aux is bound to every kernel (a dummy buffer when unused); declaring it is optional
            want.insert(1, read);
        }
        want.extend((0..n).map(|i| (2 + i, read)));
        want.insert(2 + n, read_write);
        assert_eq!(
            found,
            want,
            "{}: bindings (the recorder binds {n} inputs)",
            k.file()
        );
    }
}

#[test]
fn parameter_blocks_are_as_large_as_their_rust_structs() {
    for k in Kernel::ALL {
        let m = module(k);
        let (_, p) = m
            .global_variables
            .iter()
            .find(|(_, v)| v.binding.as_ref().is_some_and(|b| b.binding == 0))
            .unwrap_or_else(|| panic!("{} declares no parameter block", k.file()));
        let size = m.types[p.ty].inner.size(m.to_ctx()) as usize;
        assert_eq!(
            size,
            k.params_size(),
            "{}: the shader's `{}` and the Rust struct",
            k.file(),
            m.types[p.ty].name.as_deref().unwrap_or("?")
        );
    }
}

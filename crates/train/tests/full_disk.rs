//! A checkpoint written to a full disk: the run stops with an error that names the file and
//! the cause, the previous checkpoint stays as it was (bit for bit), no temporary file is left
//! behind, a resume on the full disk fails before training, and with room again the run
//! resumes from the kept checkpoint. The disk is a small tmpfs the test mounts (as root, as CI runs); where
//! mounting is refused the test says so and skips.

use ganscope_model::config::Rpgan;
use ganscope_train::checkpoint::load_bits;
use ganscope_train::options::TrainOptions;
use ganscope_train::run::{open, train};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Self, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn options(steps: u64) -> TrainOptions {
    TrainOptions {
        data: format!("mnist:{}/../../data/mnist", env!("CARGO_MANIFEST_DIR")),
        limit: Some(64),
        width: 4,
        d_width: 4,
        batch: 8,
        rpgan: Some(Rpgan::new(4, 2)),
        steps,
        checkpoint_every: 2,
        sample_every: 1000,
        ..TrainOptions::default()
    }
}

/// Fills the file system of `dir` up, then frees `keep` bytes.
fn fill(dir: &Path, keep: u64) {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    let block = vec![0u8; 64 << 10];
    let mut written = 0u64;
    while f.write_all(&block).is_ok() {
        written += block.len() as u64;
    }
    drop(f);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("filler");
    f.set_len(written.saturating_sub(keep)).expect("truncate");
}

#[test]
fn a_full_disk_stops_the_run_and_keeps_the_last_checkpoint() {
    let tmp = tempfile::tempdir().expect("tmp");
    let disk = tmp.path().join("disk");
    std::fs::create_dir(&disk).expect("mkdir");
    let _mounted = match Tmpfs::mount(&disk, "16m") {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skipped: cannot mount a tmpfs here ({e})");
            return;
        }
    };
    let run = disk.join("run");
    let mut tr = open(options(2), &run, false, None).expect("open");
    train(&mut tr, &run, &mut |_| {}).expect("two steps fit");
    let (step, before) = load_bits(&run).expect("checkpoint");
    assert_eq!(step, 2);
    let size = std::fs::metadata(run.join("checkpoint.safetensors"))
        .expect("size")
        .len();

    // the disk fills up while the run goes on: half a checkpoint of room is left
    let mut tr = open(options(4), &run, true, Some(4)).expect("resume");
    fill(&disk, size / 2);
    let err = train(&mut tr, &run, &mut |_| {}).expect_err("the disk is full");
    let msg = format!("{err}");
    assert!(
        msg.contains("checkpoint.safetensors") && msg.contains("No space left on device"),
        "{msg}"
    );

    let (step, after) = load_bits(&run).expect("the old checkpoint still loads");
    assert_eq!(step, 2);
    assert!(before == after, "the previous checkpoint changed");
    let left: Vec<String> = std::fs::read_dir(&run)
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");

    // resuming on the full disk fails before any training, naming the folder
    let Err(err) = open(options(4), &run, true, Some(4)) else {
        panic!("a resume on a full disk must fail before training");
    };
    assert!(
        format!("{err}").contains("No space left on device"),
        "{err}"
    );

    // with room again the run resumes from that checkpoint and finishes
    std::fs::remove_file(disk.join("filler")).expect("rm");
    let mut tr = open(options(4), &run, true, Some(4)).expect("resume");
    assert_eq!(tr.step, 2);
    train(&mut tr, &run, &mut |_| {}).expect("finishes");
    assert_eq!(load_bits(&run).expect("checkpoint").0, 4);
}

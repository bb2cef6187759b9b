//! Where a site goes: `--out` checked (new, empty, or a site this writer wrote), the
//! staging folder beside it, and the swap that moves the written site into place.

use crate::error::io;
use crate::{file_name, walk, Result, SiteError, BUILD_LINE, SW};
use std::path::{Path, PathBuf};

/// `--out` must be new, empty, or a site written before (its `sw.js` has the line only this
/// writer writes, and it holds no file that site did not list); never the page's own folder,
/// nor a folder inside it or holding it, nor a symbolic link.
pub(crate) fn check_out(out: &Path, www: &Path) -> Result<()> {
    if out.file_name().is_none() {
        return Err(SiteError::Invalid(format!(
            "--out {} names no folder of its own: give the site's folder, e.g. --out site",
            out.display()
        )));
    }
    let Ok(meta) = std::fs::symlink_metadata(out) else {
        return Ok(()); // a new folder
    };
    if meta.file_type().is_symlink() {
        return Err(SiteError::Invalid(format!(
            "--out {} is a symbolic link: give the folder it points to",
            out.display()
        )));
    }
    if let (Ok(o), Ok(w)) = (out.canonicalize(), www.canonicalize()) {
        if o.starts_with(&w) || w.starts_with(&o) {
            return Err(SiteError::Invalid(format!(
                "--out {} is, holds or lies inside the page's own folder {}",
                out.display(),
                www.display()
            )));
        }
    }
    if !meta.is_dir() {
        return Err(SiteError::NotASite(out.to_path_buf()));
    }
    if std::fs::read_dir(out).map_err(io(out))?.next().is_none() {
        return Ok(());
    }
    let listed = std::fs::read_to_string(out.join(SW))
        .ok()
        .and_then(|sw| build_files(&sw))
        .ok_or_else(|| SiteError::NotASite(out.to_path_buf()))?;
    let mut here = Vec::new();
    walk(out, "", &mut here)?;
    let extra: Vec<String> = here
        .into_iter()
        .map(|(rel, _)| rel.trim_start_matches('/').to_string())
        .filter(|rel| rel != SW && !listed.contains(rel))
        .collect();
    if extra.is_empty() {
        Ok(())
    } else {
        Err(SiteError::Invalid(format!(
            "{} holds files that the site written there did not: {}; writing a site replaces \
             the folder whole, so move them away first",
            out.display(),
            extra.join(", ")
        )))
    }
}

/// The JSON of a `sw.js`'s one `const BUILD = {…};` line (`None` unless there is exactly
/// one, whole on its line).
pub(crate) fn build_json(sw: &str) -> Option<&str> {
    let mut lines = sw.lines().filter(|l| l.starts_with(BUILD_LINE));
    let line = lines.next().filter(|_| lines.next().is_none())?;
    line[BUILD_LINE.len()..]
        .strip_suffix(';')
        .filter(|j| j.ends_with('}'))
}

/// The file list of a written site's `sw.js` (`None` for any other file: only a site's says
/// `"cacheFirst":true` with a `ganscope-lab-` cache).
fn build_files(sw: &str) -> Option<Vec<String>> {
    let build: serde_json::Value = serde_json::from_str(build_json(sw)?).ok()?;
    if build["cacheFirst"] != true || !build["cache"].as_str()?.starts_with("ganscope-lab-") {
        return None;
    }
    let files = build["files"].as_array()?;
    Some(
        files
            .iter()
            .filter_map(|f| f.as_str().map(String::from))
            .collect(),
    )
}

/// A hidden folder beside `out` (same file system, so renames are atomic); what an earlier
/// run that was killed left there is removed.
pub(crate) fn sibling(out: &Path, what: &str) -> Result<PathBuf> {
    let name = file_name(out)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let stale = format!(".{name}.{what}-");
    for e in std::fs::read_dir(&parent).map_err(io(&parent))?.flatten() {
        if e.file_name().to_string_lossy().starts_with(&stale) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Ok(parent.join(format!(".{name}.{what}-{}", std::process::id())))
}

/// Moves the written site to `out`, replacing a previous one.
pub(crate) fn swap_in(staging: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        let old = sibling(out, "old")?;
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(out, &old).map_err(io(out))?;
        if let Err(e) = std::fs::rename(staging, out) {
            // put the previous site back
            let _ = std::fs::rename(&old, out);
            let _ = std::fs::remove_dir_all(staging);
            return Err(io(out)(e));
        }
        // the new site is in place: a leftover copy of the old one is not worth failing over
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(staging, out).map_err(io(out))?;
    }
    Ok(())
}

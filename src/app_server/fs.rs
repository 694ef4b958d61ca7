//! `fs/*`: a host's file operations beneath the folders its threads opened, done by the core's
//! file service (`agent::files`) on a blocking task; here only the protocol's words.

use std::path::PathBuf;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::wire::{Answer, RpcError, params};
use crate::agent::files::{FileOpError, Roots};
use crate::wire::{DirectoryEntry, DirectoryRead, Empty, FileMetadata, FileRead};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PathOnly {
    path: PathBuf,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Write {
    path: PathBuf,
    data_base64: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDirectory {
    path: PathBuf,
    recursive: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Remove {
    path: PathBuf,
    recursive: Option<bool>,
    force: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Copy {
    source_path: PathBuf,
    destination_path: PathBuf,
    #[serde(default)]
    recursive: bool,
}

/// One file operation's work on a blocking task: `op` reads its params from `raw` and works
/// beneath `roots`.
pub async fn blocking(
    roots: Roots,
    raw: Value,
    op: fn(&Roots, Value) -> Result<Answer, RpcError>,
) -> Result<Answer, RpcError> {
    crate::task::spawn_blocking(move || op(&roots, raw))
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?
}

/// An operation that answers nothing but whether it was done.
fn done(result: Result<(), FileOpError>) -> Result<Answer, RpcError> {
    result.map_err(refused)?;
    Answer::of(&Empty {})
}

/// `fs/readFile`: the file's bytes, base64.
pub fn read_file(roots: &Roots, raw: Value) -> Result<Answer, RpcError> {
    let p: PathOnly = params(raw)?;
    let bytes = roots.read(&p.path).map_err(refused)?;
    Answer::of(&FileRead {
        data_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

/// `fs/writeFile`: the base64 bytes written, the file created or replaced.
pub fn write_file(roots: &Roots, raw: Value) -> Result<Answer, RpcError> {
    let p: Write = params(raw)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(p.data_base64.as_bytes())
        .map_err(|e| RpcError::invalid_params(format!("Invalid params: dataBase64: {e}")))?;
    done(roots.write(&p.path, &bytes))
}

/// `fs/createDirectory`, with its parents unless `recursive` is false.
pub fn create_directory(roots: &Roots, raw: Value) -> Result<Answer, RpcError> {
    let p: CreateDirectory = params(raw)?;
    done(roots.create_dir(&p.path, p.recursive.unwrap_or(true)))
}

/// `fs/getMetadata`: what the path is, and its times.
pub fn metadata(roots: &Roots, raw: Value) -> Result<Answer, RpcError> {
    let p: PathOnly = params(raw)?;
    let meta = roots.metadata(&p.path).map_err(refused)?;
    Answer::of(&FileMetadata {
        is_directory: meta.is_directory,
        is_file: meta.is_file,
        is_symlink: meta.is_symlink,
        created_at_ms: meta.created_ms,
        modified_at_ms: meta.modified_ms,
    })
}

/// `fs/readDirectory`: the folder's entries.
pub fn read_directory(roots: &Roots, raw: Value) -> Result<Answer, RpcError> {
    let p: PathOnly = params(raw)?;
    let entries = roots
        .read_dir(&p.path)
        .map_err(refused)?
        .into_iter()
        .map(|entry| DirectoryEntry {
            file_name: entry.name,
            is_directory: entry.is_directory,
            is_file: entry.is_file,
        })
        .collect();
    Answer::of(&DirectoryRead { entries })
}

/// `fs/remove`, a folder with what it holds and a missing path quietly unless told otherwise.
pub fn remove(roots: &Roots, raw: Value) -> Result<Answer, RpcError> {
    let p: Remove = params(raw)?;
    done(roots.remove(
        &p.path,
        p.recursive.unwrap_or(true),
        p.force.unwrap_or(true),
    ))
}

/// `fs/copy`: a file, or a folder when `recursive`.
pub fn copy(roots: &Roots, raw: Value) -> Result<Answer, RpcError> {
    let p: Copy = params(raw)?;
    done(roots.copy(&p.source_path, &p.destination_path, p.recursive))
}

/// A failed operation as the error the host shows.
fn refused(error: FileOpError) -> RpcError {
    RpcError::invalid_request(error.to_string())
}

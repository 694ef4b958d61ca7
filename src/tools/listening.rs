//! What a background terminal's processes hold, read from `/proc`: the TCP ports they listen
//! on (the sockets its process tree holds, matched against the listening sockets of the
//! network it sees, its own namespace's with the network off) and the memory they take.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

/// TCP's state number for a listening socket in `/proc/net/tcp`.
const LISTEN: &str = "0A";

/// What `pid` and everything it started hold, read from one walk of `/proc`: the ports they
/// listen on, lowest first, and the memory of the programs among them, in kB.
pub fn held_by(pid: u32) -> (Vec<u16>, u64) {
    let tree = tree_of(pid);
    (ports_of(&tree), rss_kb_of(&tree))
}

/// The ports the processes of `tree` listen on, lowest first.
fn ports_of(tree: &[u32]) -> Vec<u16> {
    let mut sockets = HashSet::new();
    for process in tree {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{process}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if let Some(inode) = socket_inode(&target) {
                sockets.insert(inode);
            }
        }
    }
    if sockets.is_empty() {
        return Vec::new();
    }
    let mut ports = BTreeSet::new();
    // The deepest process sees the command's own network; the first one that answers will do.
    for process in tree.iter().rev() {
        let mut read_any = false;
        for table in ["tcp", "tcp6"] {
            if let Ok(text) = std::fs::read_to_string(format!("/proc/{process}/net/{table}")) {
                read_any = true;
                ports.extend(listening(&text, &sockets));
            }
        }
        if read_any {
            break;
        }
    }
    ports.into_iter().collect()
}

/// The memory the programs of `tree` hold, in kB (`VmRSS`, summed).
fn rss_kb_of(tree: &[u32]) -> u64 {
    // The sandbox's keepers are kelp forked, not a program: their pages are kelp's own.
    let kelp = std::fs::read_link("/proc/self/exe").ok();
    tree.iter()
        .filter(|process| {
            std::fs::read_link(format!("/proc/{process}/exe")).ok() != kelp || kelp.is_none()
        })
        .filter_map(|process| std::fs::read_to_string(format!("/proc/{process}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .sum()
}

/// `pid` and its descendants, parents before children.
fn tree_of(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(process) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(parent) = parent_of(&entry.path()) {
                children.entry(parent).or_default().push(process);
            }
        }
    }
    let mut tree = vec![pid];
    let mut next = 0;
    while next < tree.len() {
        if let Some(found) = children.get(&tree[next]) {
            tree.extend(found);
        }
        next += 1;
    }
    tree
}

/// The parent in `/proc/PID/stat`: the second field after the name in parentheses.
fn parent_of(process: &Path) -> Option<u32> {
    let stat = std::fs::read_to_string(process.join("stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The inode of a `socket:[INODE]` link.
fn socket_inode(target: &Path) -> Option<u64> {
    target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The local ports of the listening sockets of a `/proc/net/tcp` table that are in `sockets`.
fn listening<'a>(table: &'a str, sockets: &'a HashSet<u64>) -> impl Iterator<Item = u16> + 'a {
    table.lines().skip(1).filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
        if *state != LISTEN || !sockets.contains(&inode.parse().ok()?) {
            return None;
        }
        u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_of_the_tree_is_found_and_others_are_not() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1\n\
   1: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777 1\n\
   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1\n";
        let ours: HashSet<u64> = [4242, 4243].into_iter().collect();
        assert_eq!(listening(table, &ours).collect::<Vec<_>>(), vec![8080]);
    }

    #[test]
    fn a_socket_link_gives_its_inode() {
        assert_eq!(socket_inode(Path::new("socket:[123]")), Some(123));
        assert_eq!(socket_inode(Path::new("pipe:[123]")), None);
    }
}

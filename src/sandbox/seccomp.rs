//! The system call filter a sandboxed command runs under: the doors namespaces and Landlock
//! leave open, shut by a short classic-BPF program (a crate for it would outweigh the program).
//!
//! Always: no terminal input injected into kelp (`TIOCSTI`, `TIOCLINUX`), no new user
//! namespace (where a command would be root and could try to unpick its mounts), no io_uring
//! (its operations bypass this filter), no kernel keyring calls (`keyctl`, `add_key`,
//! `request_key`: the keys of the user's session stay theirs), no mount, unmount, move of a
//! mount, `pivot_root`, open by handle or `setns` (the hiding mounts stay as they are), and no system calls of another ABI (the 32-bit ones
//! have other numbers, and `socketcall`). With the network off, no socket at all; and where
//! the mounts that hide the user's daemons could not be made, no Unix socket either.

/// What the filter refuses besides what it always refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    /// Refuse every socket (socket pairs stay: they connect to nothing outside): with the
    /// network off nothing leaves, not even to a daemon's Unix socket.
    pub deny_sockets: bool,
    /// Refuse `AF_UNIX` sockets: where the mounts that hide the user's daemons are missing.
    pub deny_unix: bool,
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod bpf {
    use libc::sock_filter;

    #[cfg(target_arch = "x86_64")]
    const NATIVE_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
    #[cfg(target_arch = "aarch64")]
    const NATIVE_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64
    /// x32 system calls are x86-64 numbers with this bit set.
    const X32_BIT: u32 = 0x4000_0000;

    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;

    // Offsets into `struct seccomp_data`: nr, arch, then 64-bit args (low word first here).
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const fn arg_low(index: u32) -> u32 {
        16 + 8 * index
    }

    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

    fn stmt(code: u16, k: u32) -> sock_filter {
        sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
        sock_filter { code, jt, jf, k }
    }

    fn errno(code: i32) -> sock_filter {
        stmt(RET_K, RET_ERRNO | code.unsigned_abs())
    }

    /// A system call number as the filter compares it.
    fn nr(call: libc::c_long) -> u32 {
        u32::try_from(call).unwrap_or(u32::MAX)
    }

    /// A comparison of an argument's low word that, when true, refuses the call.
    struct Test {
        op: u16,
        k: u32,
    }

    fn refused_if(op: u16, k: u32) -> Test {
        Test { op, k }
    }

    /// Appends a block: for system call `call`, load argument `arg` and return `errno_code` if
    /// any test refuses it, else allow. Every block ends by returning, so blocks compose.
    fn on_call(
        program: &mut Vec<sock_filter>,
        call: libc::c_long,
        arg: u32,
        tests: &[Test],
        errno_code: i32,
    ) {
        let count = u8::try_from(tests.len()).unwrap_or(u8::MAX);
        // Not this call: skip the load, the tests, the refusal and the allow.
        program.push(jump(JEQ_K, nr(call), 0, count + 3));
        program.push(stmt(LD_W_ABS, arg_low(arg)));
        for (index, test) in (0u8..).zip(tests) {
            // A true test jumps to the refusal; the last one's false skips it, to the allow.
            let to_refusal = count - 1 - index;
            let last = index + 1 == count;
            let (on_true, on_false) = if last { (0, 1) } else { (to_refusal, 0) };
            program.push(jump(test.op, test.k, on_true, on_false));
        }
        program.push(errno(errno_code));
        program.push(stmt(RET_K, RET_ALLOW));
    }

    /// Appends a refusal with `errno_code` of each of `calls`, whatever its arguments.
    fn refuse(program: &mut Vec<sock_filter>, calls: &[libc::c_long], errno_code: i32) {
        for &call in calls {
            program.push(jump(JEQ_K, nr(call), 0, 1));
            program.push(errno(errno_code));
        }
    }

    pub(super) fn program(filter: super::Filter) -> Vec<sock_filter> {
        let mut program = vec![
            stmt(LD_W_ABS, ARCH),
            jump(JEQ_K, NATIVE_ARCH, 1, 0),
            errno(libc::EPERM),
            stmt(LD_W_ABS, NR),
        ];
        if cfg!(target_arch = "x86_64") {
            program.push(jump(JGE_K, X32_BIT, 0, 1));
            program.push(errno(libc::EPERM));
        }
        refuse(
            &mut program,
            &[
                libc::SYS_io_uring_setup,
                libc::SYS_io_uring_enter,
                libc::SYS_io_uring_register,
                // glibc falls back to clone(2), whose flags this filter can read.
                libc::SYS_clone3,
            ],
            libc::ENOSYS,
        );
        // The kernel's keyrings: a command gets a session keyring of its own, and no call that
        // could reach the user's keyring or another's. And no mount of any kind: the mounts
        // that hide the credential stores are the sandbox's, made before this filter, and a
        // command (root in its namespace, where kelp runs as root) must not undo them, nor
        // reach a file by handle round them, nor join another namespace.
        refuse(
            &mut program,
            &[
                libc::SYS_keyctl,
                libc::SYS_add_key,
                libc::SYS_request_key,
                libc::SYS_mount,
                libc::SYS_umount2,
                libc::SYS_pivot_root,
                libc::SYS_open_by_handle_at,
                libc::SYS_open_tree,
                libc::SYS_move_mount,
                libc::SYS_fsopen,
                libc::SYS_fsconfig,
                libc::SYS_fsmount,
                libc::SYS_fspick,
                libc::SYS_mount_setattr,
                libc::SYS_setns,
            ],
            libc::EPERM,
        );
        let new_user = u32::try_from(libc::CLONE_NEWUSER).unwrap_or(u32::MAX);
        // The flags are the first argument of both calls, on both architectures.
        for call in [libc::SYS_unshare, libc::SYS_clone] {
            on_call(
                &mut program,
                call,
                0,
                &[refused_if(JSET_K, new_user)],
                libc::EPERM,
            );
        }
        // ioctl's request is an unsigned int: the kernel ignores the high word, so does this.
        let request = |r| u32::try_from(r).unwrap_or(u32::MAX);
        on_call(
            &mut program,
            libc::SYS_ioctl,
            1,
            &[
                refused_if(JEQ_K, request(libc::TIOCSTI)),
                refused_if(JEQ_K, request(libc::TIOCLINUX)),
            ],
            libc::EPERM,
        );
        let unix = u32::try_from(libc::AF_UNIX).unwrap_or(1);
        let socket_test = if filter.deny_sockets {
            // Every family: a test no domain fails.
            Some(refused_if(JGE_K, 0))
        } else if filter.deny_unix {
            Some(refused_if(JEQ_K, unix))
        } else {
            None
        };
        if let Some(test) = socket_test {
            on_call(&mut program, libc::SYS_socket, 0, &[test], libc::EACCES);
        }
        program.push(stmt(RET_K, RET_ALLOW));
        program
    }
}

impl Filter {
    /// Installs the filter on the calling thread (the command's process, just before exec) and
    /// sets `no_new_privs`, which an unprivileged filter needs. Allocates nothing: `program`
    /// was built in the parent.
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    pub fn install(program: &[libc::sock_filter]) -> std::io::Result<()> {
        let fprog = libc::sock_fprog {
            len: u16::try_from(program.len()).unwrap_or(u16::MAX),
            filter: program.as_ptr().cast_mut(),
        };
        // SAFETY: prctl with these options reads only `fprog`, which points at `program`,
        // alive for the call; PR_SET_NO_NEW_PRIVS takes plain integers.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &raw const fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Whether this kernel takes the filter, tried once in a throwaway child (a kernel built
    /// without seccomp, or a container that forbids it, refuses it).
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    pub fn probe() -> Result<(), String> {
        let program = Self {
            deny_sockets: true,
            deny_unix: true,
        }
        .program();
        // SAFETY: the child installs the prepared program and exits, allocating nothing; the
        // parent waits for it.
        let status = unsafe {
            let pid = libc::fork();
            if pid < 0 {
                return Err(format!("cannot fork: {}", std::io::Error::last_os_error()));
            }
            if pid == 0 {
                let code = match Self::install(&program) {
                    Ok(()) => 0,
                    Err(error) => error.raw_os_error().unwrap_or(libc::EINVAL).clamp(1, 255),
                };
                libc::_exit(code);
            }
            let mut status = 0;
            while libc::waitpid(pid, &raw mut status, 0) < 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
            }
            status
        };
        match (libc::WIFEXITED(status), libc::WEXITSTATUS(status)) {
            (true, 0) => Ok(()),
            (true, code) => Err(format!(
                "the kernel refuses seccomp filters ({})",
                std::io::Error::from_raw_os_error(code)
            )),
            _ => Err("the seccomp probe did not finish".to_string()),
        }
    }

    /// The program for this filter, built ahead of the fork.
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    pub fn program(self) -> Vec<libc::sock_filter> {
        bpf::program(self)
    }
}

#[cfg(all(
    test,
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod tests {
    use super::Filter;

    /// Every jump of every variant lands inside the program, and every path ends in a return:
    /// a filter the kernel would refuse, or one that falls off its end, fails here first.
    #[test]
    fn every_jump_lands_inside_the_program() {
        for (deny_sockets, deny_unix) in
            [(false, false), (true, false), (false, true), (true, true)]
        {
            let program = Filter {
                deny_sockets,
                deny_unix,
            }
            .program();
            let ret = (libc::BPF_RET | libc::BPF_K) as u16;
            assert_eq!(program.last().map(|i| i.code), Some(ret));
            for (at, ins) in program.iter().enumerate() {
                if u32::from(ins.code) & 0x07 == libc::BPF_JMP {
                    for offset in [ins.jt, ins.jf] {
                        assert!(at + 1 + usize::from(offset) < program.len(), "{at}");
                    }
                }
            }
        }
    }
}

using System.Text.Json;
using Sandbox.Oci;
using Tmds.Linux;

namespace Sandbox.Runtime;

/// <summary>Containers' state on disk: one directory per container under the root (--root).</summary>
internal sealed class StateStore(string root)
{
    public const string FifoName = "exec.fifo";
    private const string RecordName = "state.json";
    private const string ConfigName = "config.json";

    public string Root { get; } = root;

    /// <summary>
    /// The state root without --root: /run/sandbox as root; otherwise $XDG_RUNTIME_DIR/sandbox, or /tmp/sandbox-UID
    /// when XDG_RUNTIME_DIR is unset (as after `su`, `setpriv` or `sudo -u`). Either is made 0700 if missing, and is
    /// used only if it is a directory (not a symlink) this user owns that no one else may write: in /tmp another user
    /// can create the name first, and whoever controls the state root feeds `sandbox` the pids it signals and the
    /// cgroups it removes, and reads every container's config.
    /// </summary>
    public static string DefaultRoot(uint uid)
    {
        if (uid == 0)
        {
            return "/run/sandbox";
        }
        var xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        var root = string.IsNullOrEmpty(xdg) ? $"/tmp/sandbox-{uid}" : Path.Combine(xdg, "sandbox");
        EnsurePrivate(root, uid);
        return root;
    }

    private static unsafe void EnsurePrivate(string root, uint uid)
    {
        const string Hint = "remove it if it is not yours, or pass a --root this user owns, or set XDG_RUNTIME_DIR";
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(root + "\0"))
        {
            if (LibC.mkdirat(LibC.AT_FDCWD, p, 0x1c0) != 0 && LibC.errno is var e && e != LibC.EEXIST)
            {
                throw new SandboxException(ErrorCodes.Io, $"create the state directory {root}: {Interop.Libc.Describe(e)}", Hint);
            }
            statx st;
            if (LibC.statx(LibC.AT_FDCWD, p, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_TYPE | LibC.STATX_MODE | LibC.STATX_UID, &st) != 0)
            {
                throw new SandboxException(ErrorCodes.Io, $"stat the state directory {root}: {Interop.Libc.Describe(LibC.errno)}", Hint);
            }
            if ((st.stx_mode & LibC.S_IFMT) != LibC.S_IFDIR || st.stx_uid != uid || (st.stx_mode & 0x12) != 0)
            {
                throw new SandboxException(ErrorCodes.Io,
                    $"the state directory {root} is not a directory of uid {uid} that only it may write (type and mode {Convert.ToString(st.stx_mode, 8)}, owner {st.stx_uid})", Hint);
            }
        }
    }

    public static void ValidateId(string id)
    {
        var ok = id.Length is > 0 and <= 128 && char.IsAsciiLetterOrDigit(id[0])
            && id.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' or '.');
        if (!ok)
        {
            throw new SandboxException(ErrorCodes.IdInvalid, $"container id \"{id}\" is not valid",
                "use 1 to 128 letters, digits, '_', '-' or '.', starting with a letter or digit");
        }
    }

    public string Dir(string id) => Path.Combine(Root, id);

    /// <summary>
    /// The cgroup of a container without linux.cgroupsPath: "sandbox-TAG-ID", TAG naming this state root, so the
    /// same ID under two --root directories never shares (and never tears down) one cgroup.
    /// </summary>
    public string CgroupName(string id)
    {
        // FNV-1a over the root's full path: a name, not a secret (and no cryptography library to load per run).
        var hash = 0xcbf29ce484222325UL;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(Root)))
        {
            hash = (hash ^ b) * 0x100000001b3UL;
        }
        return $"sandbox-{hash:x16}-{id}";
    }

    public string FifoPath(string id) => Path.Combine(Dir(id), FifoName);

    private const string ClaimPrefix = ".claim-";

    /// <summary>
    /// Claims the id with its first state: written into a directory of its own, then renamed to the id, so a
    /// container's directory never exists without its state.json (a `sandbox` killed half-way leaves a ".claim-"
    /// directory that CollectStale removes). The rename is the lock that makes two creates of one id safe.
    /// </summary>
    public void Claim(ContainerRecord record, byte[]? config)
    {
        var id = record.Id;
        CheckFree(id);
        if (!Directory.Exists(Root))
        {
            try
            {
                Directory.CreateDirectory(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SandboxException(ErrorCodes.Io, $"create the state directory {Root}: {e.Message}",
                    "pass a --root this user may write, or set XDG_RUNTIME_DIR");
            }
        }
        var dir = Dir(id);
        var claim = ClaimPath(id);
        unsafe
        {
            fixed (byte* c = System.Text.Encoding.UTF8.GetBytes(claim + "\0"))
            {
                if (LibC.mkdirat(LibC.AT_FDCWD, c, 0x1c0) != 0)
                {
                    throw new SandboxException(ErrorCodes.Io, $"create {claim}: {Interop.Libc.Describe(LibC.errno)}", "check --root");
                }
                try
                {
                    // Written in place: nobody sees the claim directory's files before it is renamed to the id.
                    if (config is not null)
                    {
                        WriteNew(Path.Combine(claim, ConfigName), config);
                    }
                    WriteNew(Path.Combine(claim, RecordName), record.ToJson());
                    // rename(2) onto an existing directory fails unless it is empty (an empty one is nobody's state).
                    if (Rename(claim, dir) is var e && e != 0)
                    {
                        throw e is Interop.Libc.EEXIST or Interop.Libc.ENOTEMPTY ? Exists(id)
                            : new SandboxException(ErrorCodes.Io, $"rename {claim} to {dir}: {Interop.Libc.Describe(e)}", "check --root");
                    }
                }
                catch
                {
                    Directory.Delete(claim, recursive: true);
                    throw;
                }
            }
        }
    }

    /// <summary>A directory name that is this process's claim (CollectStale removes those of dead processes).</summary>
    private string ClaimPath(string name) => Path.Combine(Root, $"{ClaimPrefix}{Environment.ProcessId}.{ProcessInfo.OwnStartTime}-{name}");

    /// <summary>rename(2): 0, or its errno.</summary>
    private static unsafe int Rename(string from, string to)
    {
        fixed (byte* f = System.Text.Encoding.UTF8.GetBytes(from + "\0"))
        fixed (byte* t = System.Text.Encoding.UTF8.GetBytes(to + "\0"))
        {
            return Interop.Libc.Rename(f, t) == 0 ? 0 : Interop.Libc.Errno;
        }
    }

    private static SandboxException Exists(string id) => new(ErrorCodes.ContainerExists, $"container \"{id}\" already exists",
        $"pick another id, or remove it with `sandbox delete --force {id}`");

    public void Write(ContainerRecord record, byte[]? config = null)
    {
        var dir = Dir(record.Id);
        if (config is not null)
        {
            WriteAtomically(Path.Combine(dir, ConfigName), config);
        }
        WriteAtomically(Path.Combine(dir, RecordName), record.ToJson());
    }

    public ContainerRecord Read(string id)
    {
        ValidateId(id);
        var path = Path.Combine(Dir(id), RecordName);
        var bytes = RawFiles.Read(path, out var errno);
        if (bytes is null)
        {
            if (errno != Interop.Libc.ENOENT && errno != Interop.Libc.ENOTDIR)
            {
                throw new SandboxException(ErrorCodes.StateCorrupt, $"{path}: {Interop.Libc.Describe(errno)}",
                    "check the permissions of --root");
            }
            throw new SandboxException(ErrorCodes.ContainerNotFound, $"container \"{id}\" does not exist (under {Root})",
                "list containers with `ls " + Root + "`, or pass the same --root the container was created with");
        }
        try
        {
            return ContainerRecord.FromJson(bytes);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new SandboxException(ErrorCodes.StateCorrupt, $"{path}: unreadable state: {e.Message}",
                $"remove it with `sandbox delete --force {id}`");
        }
    }

    public OciConfig? ReadConfig(string id)
    {
        var path = Path.Combine(Dir(id), ConfigName);
        return File.Exists(path) ? OciConfigLoader.Parse(OciConfigLoader.ReadFile(path), path) : null;
    }

    public string Status(ContainerRecord r)
    {
        var alive = r.Pid != 0 && ProcessInfo.IsAlive(r.Pid, r.PidStartTime);
        if (r.Phase == ContainerRecord.Creating)
        {
            // Still being set up, or its `sandbox create` died half-way (CollectStale removes those).
            return alive || SupervisorAlive(r) ? OciStatus.Creating : OciStatus.Stopped;
        }
        if (!alive)
        {
            return OciStatus.Stopped;
        }
        return r.Phase == OciStatus.Created && File.Exists(FifoPath(r.Id)) ? OciStatus.Created
            : r.Cgroups.Count > 0 && Cgroups.CgroupFreezer.IsFrozen(r.Cgroups) ? OciStatus.Paused
            : OciStatus.Running;
    }

    private static bool SupervisorAlive(ContainerRecord r) =>
        r.SupervisorPid != 0 && ProcessInfo.IsAlive(r.SupervisorPid, r.SupervisorStartTime);

    public OciState State(ContainerRecord r)
    {
        var status = Status(r);
        return new OciState
        {
            Id = r.Id,
            Status = status,
            Pid = status == OciStatus.Stopped ? 0 : r.Pid,
            Bundle = r.Bundle,
            Annotations = r.Annotations,
        };
    }

    /// <summary>
    /// Removes a container's directory: first renamed to a claim of this process's (one rename, so no other `sandbox`
    /// ever sees it half-deleted, without its state.json, and deletes it too, under this one's feet), then deleted. A
    /// `sandbox` that dies meanwhile leaves a claim of a dead process, which CollectStale removes.
    /// </summary>
    public unsafe void Remove(string id)
    {
        var dir = Dir(id);
        var tomb = ClaimPath("removed-" + id);
        if (Rename(dir, tomb) is var e && e != 0)
        {
            if (e == Interop.Libc.ENOENT)
            {
                return; // gone already
            }
            throw new SandboxException(ErrorCodes.Io, $"remove {dir}: rename: {Interop.Libc.Describe(e)}", "check --root");
        }
        // The files a container's directory holds, by name; anything else there (an older version's) the long way.
        // Directory.Delete's listing and per-entry checks cost every run about 0.2 ms (measured).
        foreach (var name in ContainerFiles)
        {
            fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(Path.Combine(tomb, name) + "\0"))
            {
                LibC.unlink(p);
            }
        }
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(tomb + "\0"))
        {
            if (LibC.rmdir(p) == 0)
            {
                return;
            }
        }
        Directory.Delete(tomb, recursive: true);
    }

    private static readonly string[] ContainerFiles = [RecordName, ConfigName, FifoName];

    /// <summary>
    /// Removes what crashed runs left: containers whose `sandbox run` died (their process died with it), and
    /// containers whose `sandbox create` died before setup finished (their half-made process is killed).
    /// </summary>
    public void CollectStale()
    {
        if (SubdirectoryCount() is { } count && (count == 0 || (count == 1 && Directory.Exists(Path.Combine(Root, SeccompFilterCache.DirectoryName)))))
        {
            return; // nothing there, or nothing but the compiled filters
        }
        if (!Directory.Exists(Root))
        {
            return;
        }
        foreach (var dir in Directory.EnumerateDirectories(Root))
        {
            var id = Path.GetFileName(dir);
            if (id == SeccompFilterCache.DirectoryName)
            {
                continue; // compiled filters, kept between runs (no container id starts with '.')
            }
            if (id.StartsWith(ClaimPrefix, StringComparison.Ordinal))
            {
                // A claim whose `sandbox` died before the rename: nothing ran from it.
                var owner = id[ClaimPrefix.Length..].Split('-', 2)[0].Split('.');
                if (owner.Length != 2 || !int.TryParse(owner[0], out var pid) || !ulong.TryParse(owner[1], out var start)
                    || !ProcessInfo.IsAlive(pid, start))
                {
                    TryRemove(dir);
                }
                continue;
            }
            if (!File.Exists(Path.Combine(dir, RecordName)))
            {
                TryRemove(dir); // no container directory lacks its state.json (see Claim): a leftover of an older version
                continue;
            }
            try
            {
                var r = Read(id);
                if (r.SupervisorPid == 0 || SupervisorAlive(r))
                {
                    continue;
                }
                var alive = r.Pid != 0 && ProcessInfo.IsAlive(r.Pid, r.PidStartTime);
                if (alive && r.Phase == ContainerRecord.Creating)
                {
                    LibC.kill(r.Pid, LibC.SIGKILL);
                    alive = false;
                }
                if (!alive)
                {
                    Cgroups.CgroupHost.KillAndRemove(r.Cgroups);
                    Remove(id);
                }
            }
            catch (SandboxException)
            {
                // A directory being claimed right now has no state.json yet; leave it to its owner.
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>
    /// How many directories the state root holds, from its link count (2 plus its subdirectories on tmpfs, ext4 and xfs,
    /// where state roots live), so that a root with no container in it is not listed: the listing cost every run about
    /// 0.2 ms (measured). Null when the count says nothing (1: btrfs, or ext4 past 65000 subdirectories) and the root
    /// must be listed; 0 when there is no root.
    /// </summary>
    private unsafe int? SubdirectoryCount()
    {
        statx st;
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(Root + "\0"))
        {
            if (LibC.statx(LibC.AT_FDCWD, p, 0, LibC.STATX_NLINK | LibC.STATX_TYPE, &st) != 0)
            {
                return LibC.errno == LibC.ENOENT ? 0 : null;
            }
        }
        return (st.stx_mask & LibC.STATX_NLINK) != 0 && (st.stx_mode & LibC.S_IFMT) == LibC.S_IFDIR && st.stx_nlink >= 2 ? (int)(st.stx_nlink - 2) : null;
    }

    private static void WriteAtomically(string path, byte[] bytes) => RawFiles.WriteAtomically(path, bytes, exchange: true);

    private static void WriteNew(string path, byte[] bytes)
    {
        if (RawFiles.Write(path, bytes, create: true) is var e && e != 0)
        {
            throw new SandboxException(ErrorCodes.Io, $"write {path}: {Interop.Libc.Describe(e)}", "check --root");
        }
    }

    /// <summary>Refuses an id that is taken or invalid, as Claim does, without claiming it (Claim still decides).</summary>
    public void CheckFree(string id)
    {
        ValidateId(id);
        if (Directory.Exists(Dir(id)))
        {
            throw Exists(id);
        }
    }

    private static void TryRemove(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Another run is collecting it too.
        }
    }
}

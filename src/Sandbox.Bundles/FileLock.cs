using Microsoft.Win32.SafeHandles;

namespace Sandbox.Bundles;

/// <summary>An flock(2) on a lock file: shared for builds, exclusive for pruning and for swapping a bundle into place.</summary>
internal sealed class FileLock : IDisposable
{
    private readonly SafeFileHandle _handle;

    private FileLock(SafeFileHandle handle) => _handle = handle;

    public static FileLock Acquire(string path, bool exclusive)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        if (Interop.Libc.Flock((int)handle.DangerousGetHandle(), exclusive ? Interop.Libc.LOCK_EX : Interop.Libc.LOCK_SH) != 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw new SandboxException(ErrorCodes.Io, $"lock {path}: errno {errno}", "check the cache directory's permissions");
        }
        return new FileLock(handle);
    }

    public void Dispose() => _handle.Dispose();
}

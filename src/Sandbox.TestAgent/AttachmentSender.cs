using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Sandbox.TestAdapter.Protocol;

namespace Sandbox.TestAgent;

/// <summary>
/// Sends the files a framework attached to a result or to the run: their paths are inside the sandbox (its private
/// /tmp, its copy-on-write layer of the output directory), gone when it ends, and mean nothing to the host, which
/// never reads a path the agent names. So the agent reads each file here and sends its bytes, in chunks of
/// <see cref="AttachmentLimits.ChunkBytes"/>, before the message that refers to it by number; a file over the caps,
/// or one that cannot be read, is not sent, and the caller says so.
/// </summary>
internal sealed class AttachmentSender(LineChannel channel)
{
    private readonly Lock _lock = new();
    private byte[]? _buffer;
    private int _files;
    private long _sent;

    /// <summary>The sets as the protocol carries them, each file sent first; each file not sent is said in <paramref name="dropped"/>.</summary>
    public List<AttachmentSetDto> Send(IEnumerable<AttachmentSet> sets, List<string> dropped)
    {
        var list = new List<AttachmentSetDto>();
        foreach (var set in sets)
        {
            var files = new List<int>();
            foreach (var attachment in set.Attachments)
            {
                if (SendFile(attachment, out var why) is { } number)
                {
                    files.Add(number);
                }
                else
                {
                    dropped.Add($"Sandbox: the attachment {attachment.Uri.OriginalString} was dropped: {why}");
                }
            }
            if (files.Count > 0)
            {
                list.Add(new AttachmentSetDto { Uri = set.Uri.OriginalString, DisplayName = set.DisplayName, Files = files });
            }
        }
        return list;
    }

    /// <summary>The file's number once all of it is sent, or null and why not.</summary>
    private int? SendFile(UriDataAttachment attachment, out string why)
    {
        var uri = attachment.Uri;
        var path = !uri.IsAbsoluteUri ? Path.GetFullPath(uri.OriginalString) : uri.IsFile ? uri.LocalPath : null;
        if (path is null)
        {
            why = "it is not a file";
            return null;
        }
        // One file at a time: the caps are counted over the whole sandbox, and frameworks report results from several threads.
        lock (_lock)
        {
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                why = $"it could not be read ({e.Message})";
                return null;
            }
            using (stream)
            {
                if (_files >= AttachmentLimits.SandboxFiles || stream.Length > AttachmentLimits.FileBytes || _sent + stream.Length > AttachmentLimits.SandboxBytes)
                {
                    why = AttachmentReceiver.OverTheCap;
                    return null;
                }
                var number = _files++;
                var buffer = _buffer ??= new byte[AttachmentLimits.ChunkBytes];
                long total = 0;
                var first = true;
                string? error = null;
                while (true)
                {
                    int read;
                    try
                    {
                        read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
                    }
                    catch (IOException e)
                    {
                        error = $"it could not be read ({e.Message})";
                        read = 0;
                    }
                    total += read;
                    // It may grow while it is read: the caps hold for what is sent, not for what its length said.
                    if (error is null && (total > AttachmentLimits.FileBytes || _sent + total > AttachmentLimits.SandboxBytes))
                    {
                        error = AttachmentReceiver.OverTheCap;
                    }
                    if (error is not null)
                    {
                        channel.Write(new AgentMessage { Type = MessageTypes.Attachment, Attachment = new() { Number = number, Final = true, Error = error } });
                        why = error;
                        return null;
                    }
                    var final = read < buffer.Length;
                    channel.Write(new AgentMessage
                    {
                        Type = MessageTypes.Attachment,
                        Attachment = new()
                        {
                            Number = number,
                            Name = first ? Path.GetFileName(path) : null,
                            Description = first ? attachment.Description : null,
                            Content = Convert.ToBase64String(buffer, 0, read),
                            Final = final,
                        },
                    });
                    first = false;
                    if (final)
                    {
                        _sent += total;
                        why = "";
                        return number;
                    }
                }
            }
        }
    }
}

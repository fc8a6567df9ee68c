using System.Text;
using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Adapter;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Logging;

namespace Sandbox.TestAdapter.Protocol;

/// <summary>
/// The host's end of attachments (docs/testing.md#the-agent-protocol): the files one agent sent, written under the
/// run's results directory, and the AttachmentSets of its results and its run rewritten to name them. The agent
/// shares its process with test code, so everything it sends is hostile: the host never reads or writes a path it
/// names. A file is <c>DIR/N/NAME</c>, DIR this sandbox's own directory, N the host's count, NAME the base name sent
/// with its separators and control characters replaced (so TRX, which copies a file under its own name, shows the
/// name it has without Sandbox), created new (never opened if it exists); the caps of
/// <see cref="AttachmentLimits"/> hold whatever the agent claims, and a file that breaks them, or any other rule, is
/// deleted and reported on the result that names it as dropped, with the reason.
/// </summary>
internal sealed class AttachmentReceiver
{
    private const int MaxNameBytes = 150;
    private const int MaxTextChars = 4096;
    private static readonly Uri DefaultSetUri = new("attachment://sandbox/attachments");

    private readonly string _directory;
    private readonly Dictionary<int, Received> _files = [];
    private long _total;

    /// <param name="directory">This sandbox's directory for attachments, created with the first file.</param>
    public AttachmentReceiver(string directory) => _directory = Path.GetFullPath(directory);

    private sealed class Received(string name, string? description)
    {
        public string Name { get; } = name;
        public string? Description { get; } = description;
        public string? Path { get; set; }
        public long Bytes { get; set; }
        public bool Final { get; set; }
        public string? Dropped { get; set; }
    }

    /// <summary>The files received, and what became of them: for tests.</summary>
    internal IEnumerable<(string? Path, string Name, string? Dropped)> Files => _files.Values.Select(f => (f.Path, f.Name, f.Dropped));

    /// <summary>Takes one <c>attachment</c> message: the first chunk of a file creates it, the others append to it.</summary>
    public void Receive(AttachmentDto chunk)
    {
        if (!_files.TryGetValue(chunk.Number, out var file))
        {
            if (_files.Count >= AttachmentLimits.SandboxFiles)
            {
                // Not remembered: a result naming it is told the file never arrived, with the count cap as a reason.
                return;
            }
            file = new Received(SafeName(chunk.Name), Truncate(chunk.Description));
            _files[chunk.Number] = file;
            Create(file, _files.Count);
        }
        if (file.Dropped is not null)
        {
            return;
        }
        if (file.Final)
        {
            Drop(file, "the agent sent more of it after its end");
            return;
        }
        if (chunk.Error is not null)
        {
            Drop(file, Truncate(chunk.Error)!);
            return;
        }
        // JSON can say null where the record says "never null": nothing the agent sends is taken on trust.
        var content = chunk.Content ?? "";
        var bytes = new byte[content.Length / 4 * 3];
        if (!Convert.TryFromBase64String(content, bytes, out var length))
        {
            Drop(file, "the agent sent content that is not base64");
            return;
        }
        if (file.Bytes + length > AttachmentLimits.FileBytes || _total + length > AttachmentLimits.SandboxBytes)
        {
            Drop(file, OverTheCap);
            return;
        }
        try
        {
            using var stream = new FileStream(file.Path!, FileMode.Append, FileAccess.Write);
            stream.Write(bytes, 0, length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Drop(file, $"it could not be written to {file.Path} ({e.Message})");
            return;
        }
        file.Bytes += length;
        _total += length;
        file.Final = chunk.Final;
    }

    internal const string OverTheCap = "over the cap (" + AttachmentLimits.Described + ")";

    /// <summary>Adds the result's attachment sets, naming the files on the host, and a message for each file that was dropped.</summary>
    public void AttachTo(TestResult result, IEnumerable<AttachmentSetDto>? sets)
    {
        var dropped = new List<string>();
        foreach (var set in Resolve(sets, dropped))
        {
            result.Attachments.Add(set);
        }
        foreach (var text in dropped)
        {
            result.Messages.Add(new TestResultMessage(TestResultMessage.AdditionalInfoCategory, text + "\n"));
        }
    }

    /// <summary>Run-level attachments, as the framework recorded them, passed to <paramref name="handle"/>; a file dropped is a warning.</summary>
    public void RecordRun(IEnumerable<AttachmentSetDto>? sets, IFrameworkHandle handle)
    {
        var dropped = new List<string>();
        var resolved = Resolve(sets, dropped);
        foreach (var text in dropped)
        {
            handle.SendMessage(TestMessageLevel.Warning, text);
        }
        if (resolved.Count > 0)
        {
            handle.RecordAttachments(resolved);
        }
    }

    /// <summary>The sets with host files in place of the numbers the agent sent; each file that is not there is said in <paramref name="dropped"/>.</summary>
    public List<AttachmentSet> Resolve(IEnumerable<AttachmentSetDto>? sets, List<string> dropped)
    {
        var resolved = new List<AttachmentSet>();
        var unknown = 0;
        foreach (var dto in (sets ?? []).OfType<AttachmentSetDto>())
        {
            var uri = System.Uri.TryCreate(dto.Uri, UriKind.Absolute, out var u) ? u : DefaultSetUri;
            var set = new AttachmentSet(uri, Truncate(dto.DisplayName) ?? "");
            foreach (var number in (dto.Files ?? []).Distinct())
            {
                if (!_files.TryGetValue(number, out var file))
                {
                    unknown++;
                }
                else if (file.Dropped is not null || !file.Final)
                {
                    dropped.Add($"Sandbox: the attachment {file.Name} was dropped: {file.Dropped ?? "its last part never arrived"}");
                }
                else
                {
                    set.Attachments.Add(UriDataAttachment.CreateFrom(file.Path!, file.Description ?? file.Name));
                }
            }
            if (set.Attachments.Count > 0)
            {
                resolved.Add(set);
            }
        }
        if (unknown > 0)
        {
            dropped.Add($"Sandbox: {unknown} attachment(s) were dropped: they never arrived (over the cap of {AttachmentLimits.SandboxFiles} files a sandbox, or never sent)");
        }
        return resolved;
    }

    private void Create(Received file, int count)
    {
        var directory = Path.Combine(_directory, count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var path = Path.Combine(directory, file.Name);
        // SafeName leaves no separator, so this holds by construction; checked all the same, as the one rule that matters.
        if (Path.GetDirectoryName(Path.GetFullPath(path)) != directory)
        {
            file.Dropped = "its name would leave the results directory";
            return;
        }
        try
        {
            Directory.CreateDirectory(directory);
            new FileStream(path, FileMode.CreateNew, FileAccess.Write).Dispose();
            file.Path = path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            file.Dropped = $"it could not be created as {path} ({e.Message})";
        }
    }

    private void Drop(Received file, string why)
    {
        file.Dropped = why;
        _total -= file.Bytes;
        file.Bytes = 0;
        if (file.Path is not null)
        {
            try
            {
                File.Delete(file.Path);
                Directory.Delete(Path.GetDirectoryName(file.Path)!);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left behind in the results directory, which is the host's own.
            }
        }
    }

    /// <summary>A base name that can only be a file in one directory: the part after the last '/', with control
    /// characters and '\' replaced, at most <see cref="MaxNameBytes"/> bytes of UTF-8, never empty, "." or "..".</summary>
    internal static string SafeName(string? sent)
    {
        var name = new StringBuilder();
        var bytes = 0;
        foreach (var rune in Path.GetFileName(sent ?? "").EnumerateRunes())
        {
            var r = Rune.IsControl(rune) || rune.Value == '\\' || rune.Value == '/' ? new Rune('_') : rune;
            bytes += r.Utf8SequenceLength;
            if (bytes > MaxNameBytes)
            {
                break;
            }
            name.Append(r.ToString());
        }
        var safe = name.ToString().Trim();
        return safe is "" or "." or ".." ? "attachment" : safe;
    }

    private static string? Truncate(string? text) => text is { Length: > MaxTextChars } ? text[..MaxTextChars] + "…" : text;
}

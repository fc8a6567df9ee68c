using System.Globalization;
using Microsoft.VisualStudio.TestPlatform.ObjectModel;

namespace Sandbox.TestAdapter.Protocol;

/// <summary>
/// vstest's TestCase and TestResult to and from the protocol's records, on both sides. A test case keeps its identity
/// exactly: its Id is read before anything changes and set explicitly on the other side (the default Id hashes the
/// executor URI, which the proxy rewrites), and every property the framework attached travels with it, because
/// xunit's RunTests refuses a case without its XunitTestCaseSerialization and UniqueID.
/// </summary>
internal static class TestObjectMapper
{
    /// <summary>The properties TestCase keeps in fields; they travel as the record's own members.</summary>
    private static readonly HashSet<string> CoreTestCaseProperties =
    [
        "TestCase.Id", "TestCase.FullyQualifiedName", "TestCase.DisplayName", "TestCase.ExecutorUri",
        "TestCase.Source", "TestCase.CodeFilePath", "TestCase.LineNumber",
    ];

    /// <summary>Properties of results that TestResult keeps in fields.</summary>
    private static readonly HashSet<string> CoreTestResultProperties =
    [
        "TestResult.Outcome", "TestResult.ErrorMessage", "TestResult.ErrorStackTrace", "TestResult.DisplayName",
        "TestResult.ComputerName", "TestResult.Duration", "TestResult.StartTime", "TestResult.EndTime",
    ];

    public static TestCaseDto ToDto(TestCase testCase, string? executorUri = null, Func<TestProperty, bool>? skip = null) => new()
    {
        Id = testCase.Id,
        FullyQualifiedName = testCase.FullyQualifiedName,
        DisplayName = testCase.DisplayName,
        ExecutorUri = executorUri ?? testCase.ExecutorUri.OriginalString,
        Source = testCase.Source,
        CodeFilePath = testCase.CodeFilePath,
        LineNumber = testCase.LineNumber,
        Properties = ToDtos(testCase, CoreTestCaseProperties, skip),
    };

    /// <summary>A TestCase with <paramref name="dto"/>'s identity, under <paramref name="executorUri"/> (default: the original's).</summary>
    public static TestCase FromDto(TestCaseDto dto, Uri? executorUri = null, Action<string>? warn = null)
    {
        var testCase = new TestCase(dto.FullyQualifiedName, executorUri ?? new Uri(dto.ExecutorUri), dto.Source)
        {
            DisplayName = dto.DisplayName,
            CodeFilePath = dto.CodeFilePath,
            LineNumber = dto.LineNumber,
        };
        // After the executor URI is final, so that nothing recomputes it.
        testCase.Id = dto.Id;
        SetProperties(testCase, dto.Properties, warn);
        return testCase;
    }

    public static TestResultDto ToDto(TestResult result) => new()
    {
        TestCase = ToDto(result.TestCase),
        Outcome = (int)result.Outcome,
        ErrorMessage = result.ErrorMessage,
        ErrorStackTrace = result.ErrorStackTrace,
        DisplayName = result.DisplayName,
        ComputerName = result.ComputerName,
        DurationTicks = result.Duration.Ticks,
        StartTime = result.StartTime,
        EndTime = result.EndTime,
        Messages = [.. result.Messages.Select(m => new MessageDto(m.Category, m.Text ?? ""))],
        Properties = ToDtos(result, CoreTestResultProperties, null),
    };

    public static TestResult FromDto(TestResultDto dto, TestCase testCase, Action<string>? warn = null)
    {
        var result = new TestResult(testCase)
        {
            Outcome = Enum.IsDefined((TestOutcome)dto.Outcome) ? (TestOutcome)dto.Outcome : TestOutcome.None,
            ErrorMessage = dto.ErrorMessage,
            ErrorStackTrace = dto.ErrorStackTrace,
            DisplayName = dto.DisplayName,
            ComputerName = dto.ComputerName,
            Duration = TimeSpan.FromTicks(dto.DurationTicks),
            StartTime = dto.StartTime,
            EndTime = dto.EndTime,
        };
        foreach (var m in dto.Messages)
        {
            result.Messages.Add(new TestResultMessage(m.Category, m.Text));
        }
        SetProperties(result, dto.Properties, warn);
        return result;
    }

    private static List<PropertyDto> ToDtos(TestObject testObject, HashSet<string> core, Func<TestProperty, bool>? skip)
    {
        var list = new List<PropertyDto>();
        foreach (var property in testObject.Properties)
        {
            if (core.Contains(property.Id) || (skip?.Invoke(property) ?? false))
            {
                continue;
            }
            var value = testObject.GetPropertyValue(property);
            if (value is null)
            {
                continue;
            }
            var dto = new PropertyDto
            {
                Id = property.Id,
                Label = property.Label,
                Category = property.Category,
                Description = property.Description,
                Attributes = (int)property.Attributes,
                Kind = "",
            };
            dto = value switch
            {
                string s => dto with { Kind = PropertyValueKind.String, Value = s },
                bool b => dto with { Kind = PropertyValueKind.Bool, Value = b ? "true" : "false" },
                int i => dto with { Kind = PropertyValueKind.Int, Value = i.ToString(CultureInfo.InvariantCulture) },
                long l => dto with { Kind = PropertyValueKind.Long, Value = l.ToString(CultureInfo.InvariantCulture) },
                Guid g => dto with { Kind = PropertyValueKind.Guid, Value = g.ToString("D") },
                Uri u => dto with { Kind = PropertyValueKind.Uri, Value = u.OriginalString },
                DateTimeOffset d => dto with { Kind = PropertyValueKind.DateTimeOffset, Value = d.ToString("O", CultureInfo.InvariantCulture) },
                TimeSpan t => dto with { Kind = PropertyValueKind.TimeSpan, Value = t.Ticks.ToString(CultureInfo.InvariantCulture) },
                string[] a => dto with { Kind = PropertyValueKind.StringArray, Values = [.. a] },
                KeyValuePair<string, string>[] p => dto with { Kind = PropertyValueKind.Pairs, Pairs = [.. p.Select(kv => new KeyValueDto(kv.Key, kv.Value))] },
                // A value type outside the closed set cannot cross: saying nothing would be a silent difference from
                // a plain run, so the kind tells the other side what was dropped.
                _ => dto with { Kind = PropertyValueKind.Unsupported, Value = value.GetType().FullName },
            };
            list.Add(dto);
        }
        return list;
    }

    private static void SetProperties(TestObject testObject, List<PropertyDto> properties, Action<string>? warn)
    {
        foreach (var dto in properties)
        {
            var (type, value) = PropertyValueKind.Decode(dto);
            if (type is null)
            {
                warn?.Invoke($"property {dto.Id} of {testObject} has a value of type {dto.Value}, which the agent protocol does not carry; it was dropped");
                continue;
            }
            var property = TestProperty.Find(dto.Id)
                ?? TestProperty.Register(dto.Id, dto.Label, dto.Category, dto.Description, type, null, (TestPropertyAttributes)dto.Attributes, typeof(TestObject));
            if (property.GetValueType() != type)
            {
                warn?.Invoke($"property {dto.Id} is registered with type {property.GetValueType()}, the agent sent {type}; it was dropped");
                continue;
            }
            testObject.SetPropertyValue(property, value);
        }
    }
}

/// <summary>The value types a <see cref="PropertyDto"/> can carry.</summary>
internal static class PropertyValueKind
{
    public const string String = "string";
    public const string Bool = "bool";
    public const string Int = "int";
    public const string Long = "long";
    public const string Guid = "guid";
    public const string Uri = "uri";
    public const string DateTimeOffset = "dateTimeOffset";
    public const string TimeSpan = "timeSpan";
    public const string StringArray = "string[]";
    public const string Pairs = "pairs";
    public const string Unsupported = "unsupported";

    /// <summary>The CLR type and value, or a null type for a kind this side does not know (or cannot parse).</summary>
    public static (Type? Type, object? Value) Decode(PropertyDto dto)
    {
        var inv = CultureInfo.InvariantCulture;
        var v = dto.Value ?? "";
        return dto.Kind switch
        {
            String => (typeof(string), v),
            Bool => (typeof(bool), v == "true"),
            Int when int.TryParse(v, NumberStyles.Integer, inv, out var i) => (typeof(int), i),
            Long when long.TryParse(v, NumberStyles.Integer, inv, out var l) => (typeof(long), l),
            Guid when System.Guid.TryParse(v, out var g) => (typeof(Guid), g),
            Uri when System.Uri.TryCreate(v, UriKind.RelativeOrAbsolute, out var u) => (typeof(Uri), u),
            DateTimeOffset when System.DateTimeOffset.TryParse(v, inv, DateTimeStyles.RoundtripKind, out var d) => (typeof(DateTimeOffset), d),
            TimeSpan when long.TryParse(v, NumberStyles.Integer, inv, out var t) => (typeof(TimeSpan), System.TimeSpan.FromTicks(t)),
            StringArray => (typeof(string[]), (dto.Values ?? []).ToArray()),
            Pairs => (typeof(KeyValuePair<string, string>[]), (dto.Pairs ?? []).Select(p => new KeyValuePair<string, string>(p.Key, p.Value)).ToArray()),
            _ => (null, null),
        };
    }
}

// The shared tests (../HermeticTests) are xunit v2's, whose ITestOutputHelper lives in Xunit.Abstractions; xunit v3
// has it in Xunit and no Xunit.Abstractions at all. An empty namespace of that name keeps their `using` compiling.
namespace Xunit.Abstractions
{
}

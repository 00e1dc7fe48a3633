namespace SplitEmu.Launch.Bench;

/// <summary>`splitemu bench mmio` (guest-level benchmark).</summary>
public static class MmioBench
{
    /// <summary>Runs the benchmark.</summary>
    public static Task<int> ExecuteAsync(int iterations, string? jsonPath, CancellationToken cancellationToken)
    {
        _ = iterations;
        _ = jsonPath;
        _ = cancellationToken;
        Console.Error.WriteLine("splitemu bench mmio: not built yet");
        return Task.FromResult(1);
    }
}

using System.Runtime.InteropServices;

namespace OnnxFactorize.Cli;

/// <summary>Process entry point: wires Ctrl+C and SIGTERM to a cancellation token and runs the command line.</summary>
internal static class Program
{
    /// <summary>How long the first Ctrl+C or SIGTERM waits for the command to stop cleanly before the process exits.</summary>
    private static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(3);

    private static int Main(string[] args)
    {
        using var cancellation = new CancellationTokenSource();

        // The first signal asks the running command to stop cleanly (no partial output: the model is saved atomically and
        // only after the work is done); a second one lets the runtime end the process at once.
        void OnSignal(PosixSignalContext context)
        {
            if (!cancellation.IsCancellationRequested)
            {
                context.Cancel = true;
                cancellation.Cancel();

                // A command blocked in a system call cannot see the token: end the process after a grace period. Nothing
                // partial survives: outputs are renamed into place only when complete, and stale temp files are swept.
                _ = Task.Delay(GracePeriod).ContinueWith(_ =>
                {
                    Console.Error.WriteLine("cancelled: nothing was written.");
                    Environment.Exit(ExitCodes.Cancelled);
                }, TaskScheduler.Default);
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return CliApp.Run(args, Console.Out, Console.Error, Console.IsOutputRedirected, cancellation.Token);
    }
}

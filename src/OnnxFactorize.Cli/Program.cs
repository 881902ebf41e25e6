using System.Runtime.InteropServices;

namespace OnnxFactorize.Cli;

/// <summary>Process entry point: wires Ctrl+C and SIGTERM to a cancellation token and runs the command line.</summary>
internal static class Program
{
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
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return CliApp.Run(args, Console.Out, Console.Error, Console.IsOutputRedirected, cancellation.Token);
    }
}

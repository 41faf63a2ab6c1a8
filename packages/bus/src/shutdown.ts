import type { Logger } from '@cti/logging';

export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown>;
}

export interface ShutdownOptions {
  logger: Logger;
  /** Steps run in order: stop intake first (HTTP, AMI), then consumers, then drain NATS. */
  steps: ShutdownStep[];
  /** Hard limit for the whole shutdown, below the orchestrator's kill timeout (Docker: 10 s). */
  timeoutMs?: number;
  signals?: readonly NodeJS.Signals[];
  /** Called with the exit code; `process.exit` unless a test replaces it. */
  exit?: (code: number) => void;
}

/**
 * Runs the shutdown steps once on SIGTERM or SIGINT, then exits 0, or 1 if a step failed or the
 * time ran out. A second signal exits at once, for an operator who does not want to wait.
 */
export function installShutdown(options: ShutdownOptions): { shutdown: (reason: string, exitCode?: number) => Promise<void> } {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let running: Promise<void> | undefined;

  const shutdown = (reason: string, exitCode = 0): Promise<void> => {
    if (running !== undefined) {
      return running;
    }
    running = (async () => {
      options.logger.info({ reason }, 'shutting down');
      let failed = false;
      const timer = setTimeout(() => {
        options.logger.error({ timeoutMs: options.timeoutMs ?? 8000 }, 'shutdown timed out, exiting');
        exit(1);
      }, options.timeoutMs ?? 8000);
      timer.unref();
      for (const step of options.steps) {
        try {
          await step.run();
        } catch (error) {
          failed = true;
          options.logger.error({ err: error, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      options.logger.info({ failed }, 'shutdown complete');
      exit(failed ? 1 : exitCode);
    })();
    return running;
  };

  for (const signal of signals) {
    process.once(signal, () => {
      process.once(signal, () => {
        options.logger.warn({ signal }, 'second signal, exiting now');
        exit(1);
      });
      void shutdown(signal);
    });
  }
  return { shutdown };
}

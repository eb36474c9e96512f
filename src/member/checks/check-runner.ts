/**
 * The periodic runner of one member check, {@link CheckRunner}: runs the check's probe
 * (`check-probes.ts`) every `interval`, turns results into a {@link CheckState} with `fall` /
 * `rise` hysteresis, and starts the optional local remedy `action` when the check starts failing.
 *
 * Invariants:
 * - A {@link CheckRunner} never runs two evaluations of its check at once, and never runs two
 *   actions at once; the action runs at most once per failure streak and at most once per
 *   `actionMinIntervalMs` overall.
 * - Actions go through {@link runProcessGroup}, the one process runner of the project, and a
 *   stopped runner leaves no action process behind.
 */
import { type CheckState, INITIAL_CHECK_STATE } from "../../contract/check-state.ts";
import type { CheckConfig } from "../../config/node-config.ts";
import { type ProcessRun, runProcessGroup } from "../../process/process-run.ts";
import type { ProcessSpawner } from "../../process/process-spawner.ts";
import { describeOutcome, succeeded } from "../../process/run-outcome.ts";
import { CHECK_KILL_GRACE_MS, type CheckResult, errorText, lastLine, runCheckOnce } from "./check-probes.ts";

/** Where a {@link CheckRunner} reports its actions; `console` fits. */
export interface CheckLogger {
  /** Something expected happened (an action ran and succeeded). */
  info(message: string): void;
  /** Something an operator should look at (an action failed or was skipped). */
  warn(message: string): void;
}

/** Default of {@link CheckRunnerOptions.actionMinIntervalMs}: one minute. */
export const DEFAULT_ACTION_MIN_INTERVAL_MS = 60_000;

/** Default of {@link CheckRunnerOptions.actionTimeoutMs}: one minute. */
export const DEFAULT_ACTION_TIMEOUT_MS = 60_000;

/** Options of a {@link CheckRunner}. */
export interface CheckRunnerOptions {
  /** The check to run. */
  readonly check: CheckConfig;
  /**
   * The state to start in: {@link INITIAL_CHECK_STATE} (`pending`) when absent, as at agent
   * start. A replacement runner for a redefined check passes the old runner's state, since
   * only an agent restart makes a check pending again.
   */
  readonly initialState?: CheckState | undefined;
  /** Called (synchronously, after the run) each time the state changes; never for a repeat. */
  readonly onChange?: ((state: CheckState, result: CheckResult) => void) | undefined;
  /** Where action outcomes go; nowhere when absent. */
  readonly logger?: CheckLogger | undefined;
  /** Least time between two starts of the action, even across failure streaks. */
  readonly actionMinIntervalMs?: number | undefined;
  /** Timeout of one action run. */
  readonly actionTimeoutMs?: number | undefined;
  /** Runs the check once; {@link runCheckOnce} when absent (a seam for tests). */
  readonly runCheck?: ((check: CheckConfig) => Promise<CheckResult>) | undefined;
  /** How processes (command checks, actions) are started; the real spawner when absent. */
  readonly spawner?: ProcessSpawner | undefined;
  /** A monotonic clock in milliseconds, for the action rate limit; `performance.now()`. */
  readonly now?: (() => number) | undefined;
}

/**
 * Runs one check every `intervalMs` and turns its results into a state with hysteresis:
 * `fall` consecutive failures make it failing, `rise` consecutive passes make it passing.
 *
 * The initial state is `pending` (contract/check-state.ts), with both counters at zero:
 * nothing is assumed about a check its agent has not run yet. It leaves `pending` the first
 * time it reaches `rise` passes in a row (`onChange("passing")`) or `fall` failures in a row
 * (`onChange("failing")`, which also starts the action), and never returns to it: from then
 * on it moves between passing and failing only. A run that neither completes a rise nor a fall
 * (a pass after failures, say) leaves it pending.
 *
 * When the state becomes failing and the check has an `action`, the action is started once
 * for that streak (in the background, so the check keeps running meanwhile). It is not started
 * again until the check has risen back to passing and then fallen again, and never within
 * `actionMinIntervalMs` of the previous start: a streak that begins inside that window gets no
 * action at all (logged), rather than a delayed one.
 */
export class CheckRunner {
  private readonly check: CheckConfig;
  private readonly options: CheckRunnerOptions;
  private readonly now: () => number;
  private current: CheckState;
  private passes = 0;
  private failures = 0;
  /** The action has been started (or skipped) for the current failure streak. */
  private actionHandled = false;
  private lastActionStart: number | null = null;
  private action: ProcessRun | null = null;
  private actionDone: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** The evaluation in flight, if any: runs never overlap. */
  private inFlight: Promise<CheckResult> | null = null;
  private runs = 0;

  /** Set up the runner; nothing runs until {@link start} (or {@link runOnce}). */
  constructor(options: CheckRunnerOptions) {
    this.options = options;
    this.check = options.check;
    this.current = options.initialState ?? INITIAL_CHECK_STATE;
    this.now = options.now ?? (() => performance.now());
  }

  /** The current state. */
  get state(): CheckState {
    return this.current;
  }

  /** How many evaluations have completed. */
  get completedRuns(): number {
    return this.runs;
  }

  /** Resolves once no action is running (at once when none is); never rejects. */
  async actionIdle(): Promise<void> {
    await this.actionDone;
  }

  /** Start running the check now and then every `intervalMs` (measured start to start). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stop: no further runs are started; waits for the run in flight, and ends a running action
   * (its group gets SIGTERM, then SIGKILL), so nothing outlives the runner.
   */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.action?.kill("check runner stopped");
    await this.inFlight?.catch(() => undefined);
    await this.actionDone;
  }

  /**
   * Run the check once now and apply the result to the state (firing `onChange` and the
   * action as needed). If a run is already in flight, waits for it and returns its result
   * instead of starting another.
   */
  runOnce(): Promise<CheckResult> {
    if (this.inFlight !== null) return this.inFlight;
    const evaluate = this.options.runCheck ?? ((c) => runCheckOnce(c, { spawner: this.options.spawner }));
    const run = (async () => {
      try {
        const result = await evaluate(this.check);
        this.apply(result);
        return result;
      } finally {
        this.inFlight = null;
      }
    })();
    this.inFlight = run;
    return run;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.running) return;
      const started = this.now();
      void this.runOnce()
        .catch((e: unknown) => {
          // Only an onChange callback or a custom runCheck can throw; keep the loop alive.
          this.options.logger?.warn(`check ${this.check.name}: ${errorText(e)}`);
        })
        .finally(() => {
          if (this.running) {
            this.schedule(Math.max(0, this.check.intervalMs - (this.now() - started)));
          }
        });
    }, delayMs);
  }

  private apply(result: CheckResult): void {
    this.runs++;
    if (result.ok) {
      this.passes++;
      this.failures = 0;
    } else {
      this.failures++;
      this.passes = 0;
    }
    if (this.current !== "failing" && this.failures >= this.check.fall) {
      this.current = "failing";
      this.startAction(result);
      this.options.onChange?.("failing", result);
    } else if (this.current !== "passing" && this.passes >= this.check.rise) {
      this.current = "passing";
      // The streak is over: the next one may run the action again (rate limit permitting).
      this.actionHandled = false;
      this.options.onChange?.("passing", result);
    }
  }

  private startAction(result: CheckResult): void {
    const run = this.check.action;
    if (run === null || this.actionHandled) return;
    this.actionHandled = true;
    const logger = this.options.logger;
    const name = this.check.name;
    const minInterval = this.options.actionMinIntervalMs ?? DEFAULT_ACTION_MIN_INTERVAL_MS;
    const now = this.now();
    if (this.lastActionStart !== null && now - this.lastActionStart < minInterval) {
      logger?.warn(`check ${name}: action skipped, the previous one started less than ${minInterval} ms ago`);
      return;
    }
    if (this.action !== null) {
      logger?.warn(`check ${name}: action skipped, the previous one is still running`);
      return;
    }
    this.lastActionStart = now;
    let attempt: ProcessRun;
    try {
      attempt = runProcessGroup({
        run,
        env: {},
        stdin: "",
        timeoutMs: this.options.actionTimeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS,
        killGraceMs: CHECK_KILL_GRACE_MS,
        spawner: this.options.spawner,
      });
    } catch (e) {
      logger?.warn(`check ${name}: action could not run: ${errorText(e)}`);
      return;
    }
    logger?.info(`check ${name}: failing (${result.detail}); running its action`);
    this.action = attempt;
    this.actionDone = attempt.done.then((outcome) => {
      this.action = null;
      this.actionDone = null;
      const line = outcome.kind === "spawn-failed" ? "" : lastLine(outcome.output.text);
      const text = `check ${name}: action ${describeOutcome(outcome)}${line !== "" ? `: ${line}` : ""}`;
      if (succeeded(outcome)) logger?.info(text);
      else logger?.warn(text);
    });
  }
}

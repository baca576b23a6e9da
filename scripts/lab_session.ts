/**
 * A throwaway JupyterLab server for browser checks: the project's Lab (scripts/jupyter.sh) on a
 * free localhost port with a random token, its own user settings and workspaces in a temporary
 * directory, and a `stop()` that always ends it (API shutdown, then SIGTERM, then SIGKILL).
 *
 * @example
 * ```ts
 * import { labSettings } from "./lab_session.ts";
 * console.log(labSettings()["@jupyterlab/docmanager-extension/plugin.jupyterlab-settings"]); // { autosave: false }
 * ```
 * @module
 */

/** A running JupyterLab. */
export interface LabSession {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The server's token (pass as `?token=`). */
  readonly token: string;
  /** The last lines of the server's log. */
  logTail(): Promise<string>;
  /** Shuts kernels and server down; never throws; kills the server if it hangs. */
  stop(): Promise<void>;
}

/**
 * User settings for a check: no autosave (executed outputs must not reach the tracked
 * notebook), every cell attached to the DOM (windowing would detach figures outside the
 * viewport), and no news or update requests (the machines are offline). Keyed by the path of
 * each settings file under `JUPYTERLAB_SETTINGS_DIR`. Pure.
 *
 * @example
 * ```ts
 * import { labSettings } from "./lab_session.ts";
 * console.log(Object.keys(labSettings()).length); // 3
 * ```
 */
export function labSettings(): Record<string, Record<string, unknown>> {
  return {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": { autosave: false },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": { windowingMode: "none" },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
      fetchNews: "false",
      checkForUpdates: false,
    },
  };
}

/** A free TCP port on localhost (the OS picks it). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts JupyterLab from the checkout at `root` (needs .venv from scripts/setup.sh) with extra
 * environment variables for its kernels, and waits until its API answers.
 *
 * @example
 * ```ts ignore
 * import { startLab } from "./lab_session.ts";
 * const lab = await startLab(".", { BLT_SCALE: "ci" }, 60_000);
 * await lab.stop();
 * ```
 */
export async function startLab(
  root: string,
  env: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<LabSession> {
  await Deno.stat(`${root}/.venv/bin/jupyter`).catch(() => {
    throw new Error(
      `check_lab: ${root}/.venv/bin/jupyter not found; run: bash scripts/setup.sh --install-only`,
    );
  });
  const dir = await Deno.makeTempDir({ prefix: "blt-lab-check-" });
  for (const [path, value] of Object.entries(labSettings())) {
    const file = `${dir}/settings/${path}`;
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(file, JSON.stringify(value));
  }
  const port = freePort();
  const token = [...crypto.getRandomValues(new Uint8Array(24))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const url = `http://127.0.0.1:${port}`;
  const child = new Deno.Command("bash", {
    args: [
      `${root}/scripts/jupyter.sh`,
      "lab",
      "--no-browser",
      "--ServerApp.ip=127.0.0.1",
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      `--ServerApp.root_dir=${root}`,
      `--IdentityProvider.token=${token}`,
      // window.jupyterapp: the check reads kernel status and cell counts from the app.
      "--LabApp.expose_app_in_browser=True",
    ],
    cwd: root,
    env: {
      ...env,
      JUPYTERLAB_SETTINGS_DIR: `${dir}/settings`,
      JUPYTERLAB_WORKSPACES_DIR: `${dir}/workspaces`,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // The server's log, both streams, last 20 000 characters (for failure messages).
  let log = "";
  const decoder = new TextDecoder();
  for (const stream of [child.stdout, child.stderr]) {
    (async () => {
      for await (const chunk of stream) log = (log + decoder.decode(chunk)).slice(-20_000);
    })().catch(() => {/* the stream ends with the process */});
  }
  let exited = false;
  child.status.then(() => exited = true);
  const headers = { Authorization: `token ${token}` };

  const logTail = () => Promise.resolve(log.slice(-3000));
  // Idempotent: a signal and the caller's `finally` may both stop; both wait for the end.
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      await fetch(`${url}/api/shutdown`, {
        method: "POST",
        headers,
        signal: AbortSignal.timeout(10_000),
      }).then((r) => r.body?.cancel()).catch(() => {});
      for (const [signal, wait] of [["SIGTERM", 15_000], ["SIGKILL", 5_000]] as const) {
        const deadline = Date.now() + wait;
        while (!exited && Date.now() < deadline) await delay(200);
        if (exited) break;
        try {
          child.kill(signal);
        } catch { /* exited meanwhile */ }
      }
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  // Ctrl-C or a CI timeout must not leave a server (and its kernels) behind.
  const onSignal = () => stop().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (exited) {
      const tail = await logTail();
      await stop();
      throw new Error(`check_lab: JupyterLab exited while starting. Its log:\n${tail}`);
    }
    const ok = await fetch(`${url}/api/status`, { headers, signal: AbortSignal.timeout(2000) })
      .then((r) => (r.body?.cancel(), r.ok)).catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) {
      const tail = await logTail();
      await stop();
      throw new Error(`check_lab: JupyterLab did not answer at ${url} in time. Its log:\n${tail}`);
    }
    await delay(500);
  }
  return {
    url,
    token,
    logTail,
    stop: async () => {
      Deno.removeSignalListener("SIGINT", onSignal);
      Deno.removeSignalListener("SIGTERM", onSignal);
      await stop();
    },
  };
}

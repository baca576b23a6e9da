"""Executes a notebook headless with nbclient, keeping every output of the Deno kernel.

Deno's kernel (2.9.6) sometimes publishes a cell's `status: idle` before the last `stream` or
`display_data` messages of that cell (seen on a loaded 2-core machine: lines of `console.log`
and whole plotly figures vanished). nbclient stops reading a cell's outputs at `idle` and drops
the late ones, so `jupyter nbconvert --execute` loses them. This client routes a late message to
the cell it belongs to (by its parent message id) while the next cells run, and after the last
cell waits `--late-output-grace` seconds for stragglers. Between cells it waits until IOPub has
been quiet for `--settle` seconds (default 0.1) before sending the next cell: the kernel stamps a
message with the request current when it sends it, so a display still queued when the next
request arrives would otherwise be filed under the next cell.

Under load the kernel has also once sent an IOPub message whose HMAC did not match its content
(jupyter_client raised `ValueError: Invalid Signature` and the whole run died, CI 2026-11-22).
This client drops such a message with a warning on stderr and reads on; the count is written
to the executed notebook's metadata (`blt_executor.dropped_messages`), and a notebook that lost a
figure that way still fails the page checks of scripts/run_notebooks.ts.

    python scripts/execute_notebook.py IN.ipynb OUT.ipynb [--kernel deno] [--timeout 900]

Run through `bash scripts/jupyter.sh python ...` so Jupyter finds the project's kernelspec.
Errors in cells do not stop execution (the runner reports them from OUT.ipynb).
"""

import argparse
import os
import queue
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete
from nbclient.util import ensure_async


class LateOutputClient(NotebookClient):
    """A NotebookClient that files outputs published after `idle` under their own cell."""

    def __init__(self, *args, late_output_grace: float = 2.0, settle: float = 0.1, **kwargs):
        super().__init__(*args, **kwargs)
        self.late_output_grace = late_output_grace
        self.settle = settle
        self._cells_by_msg_id = {}
        self.dropped_messages = 0

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        for name in ("iopub", "shell"):
            channel = getattr(kc, f"{name}_channel")
            channel.get_msg = self._tolerant(channel.get_msg, name)
        return kc

    def _tolerant(self, get_msg, name):
        """Wraps a channel's get_msg so that a message failing its signature check is skipped."""

        async def get(*args, **kwargs):
            while True:
                try:
                    return await ensure_async(get_msg(*args, **kwargs))
                except ValueError as e:
                    if "Signature" not in str(e):
                        raise
                    self.dropped_messages += 1
                    print(
                        f"execute_notebook: dropped a kernel message on the {name} channel: {e}",
                        file=sys.stderr,
                    )

        return get

    def _file_late(self, msg) -> None:
        target = self._cells_by_msg_id.get(msg["parent_header"].get("msg_id"))
        if target is None:
            return
        try:
            self.process_message(msg, *target)
        except CellExecutionComplete:
            pass

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        self._cells_by_msg_id[parent_msg_id] = (cell, cell_index)
        while True:
            msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    return
            else:
                self._file_late(msg)

    async def _settle(self, quiet: float) -> None:
        """Files late messages until the kernel has been quiet on IOPub for `quiet` seconds."""
        while True:
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=quiet))
            except queue.Empty:
                return
            self._file_late(msg)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        last = cell_index == len(self.nb.cells) - 1
        # Between cells too: the kernel stamps a late message with the request that is current
        # when it sends it, so a display still queued when the next request arrives would be
        # filed under the next cell (seen in CI). Sending the next request only after a quiet
        # spell keeps it under its own cell.
        if last or self.settle > 0:
            await self._settle(self.late_output_grace if last else self.settle)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--kernel", default="deno")
    parser.add_argument("--timeout", type=int, default=-1, help="seconds per cell; -1: none")
    parser.add_argument("--late-output-grace", type=float, default=2.0)
    parser.add_argument(
        "--settle", type=float, default=0.1, help="quiet seconds on IOPub before the next cell"
    )
    args = parser.parse_args()
    nb = nbformat.read(args.source, as_version=4)
    client = LateOutputClient(
        nb,
        kernel_name=args.kernel,
        timeout=None if args.timeout < 0 else args.timeout,
        allow_errors=True,
        late_output_grace=args.late_output_grace,
        settle=args.settle,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(args.source))}},
    )
    client.execute()
    if client.dropped_messages:
        nb.metadata["blt_executor"] = {"dropped_messages": client.dropped_messages}
    nbformat.write(nb, args.target)


if __name__ == "__main__":
    main()
